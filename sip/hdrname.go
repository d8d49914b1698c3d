package sip

// HdrID is a small integer naming a header the package knows. Header lines
// whose name is not known get HdrOther and are found by a case-insensitive
// name scan instead.
type HdrID uint8

// Known header ids. The compact forms of RFC 3261 §7.3.3 and later RFCs map
// to the same id as their full name.
const (
	HdrOther HdrID = iota
	HdrVia
	HdrFrom
	HdrTo
	HdrCallID
	HdrCSeq
	HdrMaxForwards
	HdrContact
	HdrRoute
	HdrRecordRoute
	HdrContentLength
	HdrContentType
	HdrContentEncoding
	HdrExpires
	HdrMinExpires
	HdrAuthorization
	HdrProxyAuthorization
	HdrWWWAuthenticate
	HdrProxyAuthenticate
	HdrUserAgent
	HdrServer
	HdrSupported
	HdrRequire
	HdrProxyRequire
	HdrUnsupported
	HdrAllow
	HdrAccept
	HdrSubject
	HdrEvent
	HdrAllowEvents
	HdrReferTo
	HdrReferredBy
	HdrSessionExpires
	HdrIdentity
	HdrDate
	HdrPath
	numHdrIDs
)

var hdrNames = [numHdrIDs]string{
	HdrOther:              "",
	HdrVia:                "Via",
	HdrFrom:               "From",
	HdrTo:                 "To",
	HdrCallID:             "Call-ID",
	HdrCSeq:               "CSeq",
	HdrMaxForwards:        "Max-Forwards",
	HdrContact:            "Contact",
	HdrRoute:              "Route",
	HdrRecordRoute:        "Record-Route",
	HdrContentLength:      "Content-Length",
	HdrContentType:        "Content-Type",
	HdrContentEncoding:    "Content-Encoding",
	HdrExpires:            "Expires",
	HdrMinExpires:         "Min-Expires",
	HdrAuthorization:      "Authorization",
	HdrProxyAuthorization: "Proxy-Authorization",
	HdrWWWAuthenticate:    "WWW-Authenticate",
	HdrProxyAuthenticate:  "Proxy-Authenticate",
	HdrUserAgent:          "User-Agent",
	HdrServer:             "Server",
	HdrSupported:          "Supported",
	HdrRequire:            "Require",
	HdrProxyRequire:       "Proxy-Require",
	HdrUnsupported:        "Unsupported",
	HdrAllow:              "Allow",
	HdrAccept:             "Accept",
	HdrSubject:            "Subject",
	HdrEvent:              "Event",
	HdrAllowEvents:        "Allow-Events",
	HdrReferTo:            "Refer-To",
	HdrReferredBy:         "Referred-By",
	HdrSessionExpires:     "Session-Expires",
	HdrIdentity:           "Identity",
	HdrDate:               "Date",
	HdrPath:               "Path",
}

// String returns the canonical full name of a known header, or "" for
// HdrOther.
func (h HdrID) String() string {
	if h < numHdrIDs {
		return hdrNames[h]
	}
	return ""
}

// LookupHdr returns the id of a header name (full or compact form, any
// case), or HdrOther. It switches on the length and first byte first, so a
// lookup costs a couple of comparisons.
func LookupHdr[T ~string | ~[]byte](name T) HdrID {
	n := len(name)
	if n == 0 {
		return HdrOther
	}
	c := LowerASCII(name[0])
	if n == 1 {
		switch c {
		case 'v':
			return HdrVia
		case 'f':
			return HdrFrom
		case 't':
			return HdrTo
		case 'i':
			return HdrCallID
		case 'm':
			return HdrContact
		case 'l':
			return HdrContentLength
		case 'c':
			return HdrContentType
		case 'e':
			return HdrContentEncoding
		case 'k':
			return HdrSupported
		case 's':
			return HdrSubject
		case 'o':
			return HdrEvent
		case 'u':
			return HdrAllowEvents
		case 'r':
			return HdrReferTo
		case 'b':
			return HdrReferredBy
		case 'x':
			return HdrSessionExpires
		case 'y':
			return HdrIdentity
		}
		return HdrOther
	}
	var cand HdrID
	switch n {
	case 2:
		cand = HdrTo
	case 3:
		cand = HdrVia
	case 4:
		switch c {
		case 'f':
			cand = HdrFrom
		case 'c':
			cand = HdrCSeq
		case 'd':
			cand = HdrDate
		case 'p':
			cand = HdrPath
		}
	case 5:
		switch c {
		case 'r':
			cand = HdrRoute
		case 'a':
			cand = HdrAllow
		case 'e':
			cand = HdrEvent
		}
	case 6:
		switch c {
		case 's':
			cand = HdrServer
		case 'a':
			cand = HdrAccept
		}
	case 7:
		switch c {
		case 'c':
			switch LowerASCII(name[1]) {
			case 'a':
				cand = HdrCallID
			case 'o':
				cand = HdrContact
			}
		case 'e':
			cand = HdrExpires
		case 'r':
			cand = HdrRequire
		case 's':
			cand = HdrSubject
		}
	case 8:
		switch c {
		case 'r':
			cand = HdrReferTo
		case 'i':
			cand = HdrIdentity
		}
	case 9:
		cand = HdrSupported
	case 10:
		cand = HdrUserAgent
	case 11:
		switch c {
		case 'm':
			cand = HdrMinExpires
		case 'u':
			cand = HdrUnsupported
		case 'r':
			cand = HdrReferredBy
		}
	case 12:
		switch c {
		case 'm':
			cand = HdrMaxForwards
		case 'r':
			cand = HdrRecordRoute
		case 'c':
			cand = HdrContentType
		case 'a':
			cand = HdrAllowEvents
		}
	case 13:
		switch c {
		case 'a':
			cand = HdrAuthorization
		case 'p':
			cand = HdrProxyRequire
		}
	case 14:
		cand = HdrContentLength
	case 15:
		cand = HdrSessionExpires
	case 16:
		switch c {
		case 'c':
			cand = HdrContentEncoding
		case 'w':
			cand = HdrWWWAuthenticate
		}
	case 18:
		cand = HdrProxyAuthenticate
	case 19:
		cand = HdrProxyAuthorization
	}
	if cand == HdrOther {
		return HdrOther
	}
	full := hdrNames[cand]
	for i := 0; i < n; i++ {
		if LowerASCII(name[i]) != LowerASCII(full[i]) {
			return HdrOther
		}
	}
	return cand
}
