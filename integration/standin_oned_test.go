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
			rpcAnswer(w, false, "["+call.Method+"] not in the stand-in", 0x1000)
			return
		}
		id := call.Ints[0]
		doc, err := os.ReadFile(files[id])
		if files[id] == "" || err != nil {
			rpcAnswer(w, false, "[one.vn.info] Error getting virtual network ["+id+"].", 0x0400) // NO_EXISTS
			return
		}
		rpcAnswer(w, true, string(doc), 0)
	}))
	t.Cleanup(srv.Close)
	auth := filepath.Join(t.TempDir(), "one_auth")
	if err := os.WriteFile(auth, []byte("oneadmin:stand-in"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"ONE_XMLRPC=" + srv.URL, "ONE_AUTH=" + auth}
}

// rpcAnswer writes oned's XML-RPC answer: [ok, document or error message, error code].
func rpcAnswer(w io.Writer, ok bool, text string, code int) {
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(text))
	b := 0
	if ok {
		b = 1
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><boolean>%d</boolean></value><value><string>%s</string></value><value><i4>%d</i4></value></data></array></value></param></params></methodResponse>`, b, esc.String(), code)
}
