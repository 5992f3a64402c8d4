package dialer

// ListQuery is a list request: equality filters on a resource's fields (the
// ICTCore "search parameters in url as query string") and a page.
type ListQuery struct {
	// Filters maps a field name, as the API shows it, to the wanted value.
	Filters map[string]string
	Limit   int
	Offset  int
}

// Page limits.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)
