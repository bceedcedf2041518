package mapping

// AR attribute names: OpenNebula's own, then the driver's. Each is spelled here once.
const (
	AttrIPAMMAD        = "IPAM_MAD"
	AttrType           = "TYPE"
	AttrIP             = "IP"
	AttrSize           = "SIZE"
	AttrMAC            = "MAC"
	AttrARID           = "AR_ID"
	AttrNetworkAddress = "NETWORK_ADDRESS"
	AttrNetworkMask    = "NETWORK_MASK"
	AttrGateway        = "GATEWAY"
	AttrDNS            = "DNS"
	AttrGuestMTU       = "GUEST_MTU"
	AttrSearchDomain   = "SEARCH_DOMAIN"
	AttrGlobalPrefix   = "GLOBAL_PREFIX"
	AttrULAPrefix      = "ULA_PREFIX"
	AttrIP6Global      = "IP6_GLOBAL"
	AttrIP6ULA         = "IP6_ULA"
	AttrIP6            = "IP6"           // IP4_6_STATIC: the first IPv6 address
	AttrIP6PrefixLen   = "PREFIX_LENGTH" // IP4_6_STATIC: its prefix length
	AttrShared         = "SHARED"
	// Set by oned on the AR of a reservation network: the parent network's AR it
	// was cut from (the rest, NetBox ids included, is a copy of the parent's).
	AttrParentARID = "PARENT_NETWORK_AR_ID"

	// Written by the driver at register, read back in every later request.
	AttrPrefixID  = "NETBOX_PREFIX_ID"
	AttrIPRangeID = "NETBOX_IP_RANGE_ID"
	AttrPrefix    = "NETBOX_PREFIX"
	AttrVLANID    = "NETBOX_VLAN_ID"
	// The /64s NetBox holds for an IP4_6 AR's GLOBAL_PREFIX and ULA_PREFIX.
	AttrPrefix6ID    = "NETBOX_PREFIX6_ID"
	AttrULAPrefix6ID = "NETBOX_ULA_PREFIX6_ID"
	// Set by the user on the AR to steer placement.
	AttrParentPrefix = "NETBOX_PARENT_PREFIX"
	AttrPrefixLength = "NETBOX_PREFIX_LENGTH"
	AttrVRF          = "NETBOX_VRF"
	AttrTenant       = "NETBOX_TENANT"
	AttrRole         = "NETBOX_ROLE"
	AttrSite         = "NETBOX_SITE"
	AttrStatus       = "NETBOX_STATUS"
	// The NetBox IPv6 prefixes to carve an IP4_6 AR's /64s from (else
	// pool.parent_prefixes6 and pool.ula_parent_prefixes6).
	AttrParentPrefix6    = "NETBOX_PARENT_PREFIX6"
	AttrULAParentPrefix6 = "NETBOX_ULA_PARENT_PREFIX6"
)

// ComputedAR reports whether name is an attribute `onevnet show -x` adds to an AR that
// oned computes for the document and never stores: an update does not take it, and
// the driver never writes one back.
func ComputedAR(name string) bool {
	switch name {
	case "MAC_END", "IP_END", "IP6_END", "IP6_ULA", "IP6_ULA_END", "IP6_GLOBAL", "IP6_GLOBAL_END", "USED_LEASES":
		return true
	}
	return false
}

// Custom field names in NetBox, and the tag's default slug.
const (
	CFGateway      = "one_gateway"
	CFDNS          = "one_dns"
	CFNetworkMask  = "one_network_mask"
	CFGuestMTU     = "one_guest_mtu"
	CFSearchDomain = "one_search_domain"
	CFRequestID    = "one_request_id"
	CFARID         = "one_ar_id"
	CFMAC          = "one_mac"
	CFVMID         = "one_vm_id"
	CFVNetID       = "one_vnet_id"
	CFVRouterID    = "one_vrouter_id"
	CFClusterID    = "one_cluster_id" // on NetBox clusters (vms.enabled)
	CFFreesAt      = "one_frees_at"   // when a cooling lease may go (release: cooldown; FreesAt)

	DefaultTag = "opennebula"
)

// NetworkSetting ties an AR attribute to the prefix custom field that stores it.
type NetworkSetting struct {
	Attr, CustomField string
	Integer           bool
}

// NetworkSettings are handed to VMs and live in custom fields on the prefix.
var NetworkSettings = []NetworkSetting{
	{AttrGateway, CFGateway, false},
	{AttrDNS, CFDNS, false},
	{AttrNetworkMask, CFNetworkMask, false},
	{AttrGuestMTU, CFGuestMTU, true},
	{AttrSearchDomain, CFSearchDomain, false},
}
