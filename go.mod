module github.com/one-netbox-ipam/one-netbox-ipam

go 1.26.8

require (
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/netbox-community/go-netbox/v4 v4.0.3-0
	go.yaml.in/yaml/v3 v3.0.4
)

require (
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/kr/pretty v0.3.1 // indirect
	golang.org/x/sys v0.29.0 // indirect
	gopkg.in/check.v1 v1.0.0-20190902080502-41f04d3bba15 // indirect
)
