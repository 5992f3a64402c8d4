package dialer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// csvRecords is the record layer every CSV import shares (contacts,
// do-not-call numbers): records bounded by MaxCSVRecordBytes, short rows
// allowed (empty trailing fields), one record held at a time, and the line
// of the last record for the row errors.
type csvRecords struct {
	r    *csv.Reader
	src  *recordLimit
	line int // line of the last record read
}

// openCSVRecords reads the header row of src. An empty or unreadable
// header is a validation error of the field "header"; empty says what the
// first row must name.
func openCSVRecords(src io.Reader, empty string) (*csvRecords, []string, error) {
	lim := &recordLimit{r: src, max: MaxCSVRecordBytes}
	r := csv.NewReader(lim)
	r.FieldsPerRecord = -1 // short rows mean empty trailing fields
	r.ReuseRecord = true
	header, err := r.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil, InvalidField("header", "the CSV is empty; its first row must name the columns, "+empty)
	case errors.Is(err, ErrRecordTooLong):
		return nil, nil, InvalidField("header", ErrRecordTooLong.Error())
	case errors.As(err, &pe):
		return nil, nil, InvalidField("header", "line 1: "+pe.Err.Error())
	case err != nil:
		return nil, nil, err
	}
	return &csvRecords{r: r, src: lim, line: 1}, header, nil
}

// next reads the next record. A record the CSV syntax breaks (a stray
// quote) comes back as broken, a rejected row of field "csv", and reading
// goes on; a record over the size limit stops the import.
func (c *csvRecords) next() (rec []string, broken *ImportError, err error) {
	c.src.reset()
	rec, err = c.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil, io.EOF
	case errors.Is(err, ErrRecordTooLong):
		return nil, nil, InvalidField("body", fmt.Sprintf("after line %d: %v; the import stopped there", c.line, ErrRecordTooLong))
	case errors.As(err, &pe):
		c.line = pe.StartLine
		return nil, &ImportError{Line: pe.StartLine, Field: "csv", Reason: pe.Err.Error()}, nil
	case err != nil:
		return nil, nil, err
	}
	c.line, _ = c.r.FieldPos(0)
	return rec, nil, nil
}
