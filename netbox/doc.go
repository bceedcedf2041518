// Package netbox owns every conversation with the NetBox server: authentication (v2
// "Bearer nbt_…" and v1 "Token …" tokens), TLS, retries, the go-netbox calls, and the
// workarounds for where go-netbox v4.0.3-0 (generated for NetBox 4.0) does not match
// NetBox 4.7.
//
// # How answers are decoded
//
// Requests are built and sent by go-netbox. Answers are always decoded from the raw
// body into this package's own types (Prefix, IPRange, IPAddress, …), whether or not
// go-netbox could decode them: go-netbox keeps the raw body on the response, and a
// decode gap must never become a wrong or missing answer. decode() is the one place
// that does this. The gaps themselves are pinned against the real server by
// integration/gonetbox_gaps_test.go, so a go-netbox upgrade that closes (or opens) one
// shows up as a failing test. Against NetBox 4.7.3 that test records:
//
//	call                                              go-netbox decode   ours
//	StatusRetrieve                                    ok                 ok
//	ExtrasTagsList                                    ok                 ok
//	IpamPrefixesRetrieve, prefix in a VRF (± role)    FAILS              ok
//	IpamIpRangesRetrieve, range in a VRF (± role)     FAILS              ok
//	IpamIpRangesRetrieve, range without VRF or role   ok                 ok
//	IpamIpRangesAvailableIpsList, range in a VRF      FAILS              ok
//	IpamIpRangesAvailableIpsList, range without VRF   ok                 ok
//	IpamIpRangesAvailableIpsCreate, range in a VRF    ok                 ok
//	IpamIpAddressesRetrieve, address in a VRF         ok                 ok
//
// Every failure above is "no value given for required property prefix_count": NetBox
// 4.7's brief VRF no longer carries prefix_count, which go-netbox 4.0 requires. The
// failing calls still return the raw body, which decode() reads.
//
// On the writing side go-netbox 4.0's request models lack what 4.7 takes, so those
// fields travel as the models' AdditionalProperties: foreign keys as plain ids (its
// nested VRF/role/tenant models demand names), tags as {"slug": …} (its nested tag
// demands the name too), tags/custom fields/status/VRF on available-ips (its model
// there is the brief address-and-description one), and a prefix's scope_type/scope_id
// (4.2+; a `site` key is silently ignored by 4.7). Calls with filters it cannot say at
// all (vrf_id=null for the global table, `limit` of available-ips GET, parent=…,
// several addresses at once) and bulk creates go through Client.do (queries.go).
//
// Retries: GET, HEAD and DELETE are retried by go-retryablehttp on connection errors,
// 429 and 5xx, with backoff, inside the caller's context deadline. POST and PATCH are
// sent once: a POST whose answer was lost may have taken effect, so the caller looks
// the object up before trying again.
package netbox
