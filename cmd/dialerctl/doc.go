// Command dialerctl is the operator's command line for a dialerd daemon:
// log in, list, start, stop and watch campaigns, import contacts, fetch a
// campaign's report and check the trunks.
//
// Exit codes, for scripts:
//
//	0  done
//	1  usage or a local error (bad flags or arguments, an unreadable file)
//	2  the API refused the request (4xx other than 401/403, or 5xx)
//	3  authentication: not logged in, the token expired or was refused (401),
//	   or a permission is missing (403)
//	4  the daemon could not be reached
//	5  done, but not everything succeeded: rows of an import were rejected, a
//	   watched campaign was stopped rather than completed, a trunk or node is down
//	130 interrupted (Ctrl-C)
package main
