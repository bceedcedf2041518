package integration

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// standInOned answers one.vn.info over XML-RPC with the documents in files (network id
// → path, read at each call, so a test that rewrites a file changes what oned holds),
// and oned's NO_EXISTS fault for any other network. sync reads each network again
// before it repairs it, whatever its picture came from; this suite has NetBox but no
// oned, so its file pictures come with this stand-in (the e2e suite runs the real
// oned). It returns the environment that points the driver at it.
func standInOned(t *testing.T, files map[string]string) []string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var call struct {
			Method string   `xml:"methodName"`
			Ints   []string `xml:"params>param>value>int"`
		}
		if err := xml.Unmarshal(body, &call); err != nil || call.Method != "one.vn.info" || len(call.Ints) == 0 {
			fmt.Fprintf(w, `<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><boolean>0</boolean></value><value><string>[%s] not in the stand-in</string></value><value><i4>4096</i4></value></data></array></value></param></params></methodResponse>`, call.Method)
			return
		}
		id := call.Ints[0]
		doc, err := os.ReadFile(files[id])
		if files[id] == "" || err != nil {
			fmt.Fprintf(w, `<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><boolean>0</boolean></value><value><string>[one.vn.info] Error getting virtual network [%s].</string></value><value><i4>1024</i4></value></data></array></value></param></params></methodResponse>`, id)
			return
		}
		var esc bytes.Buffer
		_ = xml.EscapeText(&esc, doc)
		fmt.Fprintf(w, `<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value><string>%s</string></value><value><i4>0</i4></value></data></array></value></param></params></methodResponse>`, esc.String())
	}))
	t.Cleanup(srv.Close)
	auth := filepath.Join(t.TempDir(), "one_auth")
	if err := os.WriteFile(auth, []byte("oneadmin:stand-in"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"ONE_XMLRPC=" + srv.URL, "ONE_AUTH=" + auth}
}
