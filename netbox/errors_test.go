package netbox

import "testing"

// Bodies below are what NetBox 4.7.3 answered (captured with curl against the test NetBox).
func TestStatusErrorMessages(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   Kind
		want   string
	}{
		{"field error", 400, `{"prefix":["Invalid IP prefix format: nonsense"]}`, KindInvalid,
			"POST /x: HTTP 400: prefix: Invalid IP prefix format: nonsense"},
		{"bad v2 token", 403, `{"detail":"Invalid v2 token"}`, KindAuth,
			"POST /x: NetBox refused the request (HTTP 403: Invalid v2 token); check the token and its permissions"},
		{"not found", 404, `{"detail":"No IPRange matches the given query."}`, KindNotFound,
			"POST /x: HTTP 404: No IPRange matches the given query."},
		{"bulk", 400, `{"detail":"1 of 2 objects could not be created.","errors":[{"index":1,"errors":{"address":["Invalid IP address format: bad"]}}]}`, KindInvalid,
			"POST /x: HTTP 400: 1 of 2 objects could not be created. (object 1) address: Invalid IP address format: bad"},
		// Shape of NetBox's non-field errors (text made up): the key is dropped.
		{"non-field", 400, `{"__all__":["Defined addresses overlap with range"]}`, KindInvalid,
			"POST /x: HTTP 400: Defined addresses overlap with range"},
		// A proxy in front of NetBox, and an empty answer (not from NetBox itself).
		{"proxy html", 502, "<html>\n<body>Bad   Gateway</body></html>", KindServer,
			"POST /x: HTTP 502: <html> <body>Bad Gateway</body></html>"},
		{"empty", 503, "", KindServer, "POST /x: HTTP 503: empty answer"},
		{"range full", 409, `{"detail":"Insufficient resources are available to satisfy the request"}`, KindConflict,
			"POST /x: HTTP 409: Insufficient resources are available to satisfy the request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := statusError("POST /x", tc.status, []byte(tc.body))
			if KindOf(err) != tc.kind {
				t.Errorf("kind = %v, want %v", KindOf(err), tc.kind)
			}
			if err.Error() != tc.want {
				t.Errorf("message\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
}
