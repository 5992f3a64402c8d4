package media

import (
	"encoding/binary"
	"io"
	"math"
)

// What txfax (spandsp) sends without conversion: TIFF Class F, the profile
// of TIFF for fax. A page is bilevel, G3 (T.4) or G4 (T.6) coded, 1728
// pixels wide (A4 and letter at 8 dots per millimetre), at 204 dots per
// inch across and 98 (standard) or 196 (fine) lines per inch down.
const (
	FaxWidth       = 1728
	FaxXDPI        = 204
	FaxYDPIFine    = 196
	FaxYDPIDefault = 98

	tiffCompressionG3 = 3
	tiffCompressionG4 = 4
)

// TIFF tags CheckFaxTIFF reads.
const (
	tagImageWidth      = 256
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagSamplesPerPixel = 277
	tagXResolution     = 282
	tagYResolution     = 283
	tagResolutionUnit  = 296
)

// TIFF field types.
const (
	tiffShort    = 3
	tiffLong     = 4
	tiffRational = 5
)

const faxTIFFHint = "; a fax TIFF (TIFF-F) is G3 or G4, 1728 pixels wide, 204×98 or 204×196 dpi: upload a PDF to have it converted"

// CheckFaxTIFF checks that the TIFF of size bytes in r is one txfax can
// send as it is — every page a TIFF-F page — and returns its page count.
// A TIFF that is not is a *dialer.Error with CodeInvalid on the field
// "file" wrapping ErrBadDocument (or ErrNotDocument when it is no TIFF).
//
// dialerd does not convert TIFF: Ghostscript reads PostScript and PDF only,
// and a fax TIFF is what any fax tool writes.
func CheckFaxTIFF(r io.ReaderAt, size int64) (pages int, err error) {
	head := make([]byte, min(max(size, 0), 8))
	if err := readAt(r, head, 0); err != nil {
		return 0, err
	}
	if kind, err := SniffDocument(head); err != nil {
		return 0, err
	} else if kind != DocumentTIFF {
		return 0, invalid(ErrNotDocument, nil, "not a TIFF")
	}
	return walkTIFF(r, size, func(page int, order binary.ByteOrder, entries []tiffEntry) error {
		return checkFaxPage(r, size, page, order, entries)
	})
}

// checkFaxPage checks the directory of one page against TIFF-F.
func checkFaxPage(r io.ReaderAt, size int64, page int, order binary.ByteOrder, entries []tiffEntry) error {
	// Defaults of TIFF 6.0 for tags a page may leave out.
	width, compression, bits, samples, unit := -1, 1, 1, 1, 2
	xres, yres := -1.0, -1.0
	for _, e := range entries {
		switch e.tag {
		case tagImageWidth:
			width = entryInt(order, e)
		case tagCompression:
			compression = entryInt(order, e)
		case tagBitsPerSample:
			bits = entryInt(order, e)
		case tagSamplesPerPixel:
			samples = entryInt(order, e)
		case tagResolutionUnit:
			unit = entryInt(order, e)
		case tagXResolution, tagYResolution:
			v, err := entryRational(r, size, order, e)
			if err != nil {
				return err
			}
			if e.tag == tagXResolution {
				xres = v
			} else {
				yres = v
			}
		}
	}
	switch unit {
	case 2: // inch
	case 3: // centimetre
		xres, yres = xres*2.54, yres*2.54
	default:
		return invalid(ErrBadDocument, nil, "TIFF page %d: no resolution unit"+faxTIFFHint, page)
	}
	switch {
	case compression != tiffCompressionG3 && compression != tiffCompressionG4:
		return invalid(ErrBadDocument, nil, "TIFF page %d: compression %d is not G3 (3) or G4 (4)"+faxTIFFHint, page, compression)
	case bits != 1 || samples != 1:
		return invalid(ErrBadDocument, nil, "TIFF page %d: not black and white"+faxTIFFHint, page)
	case width != FaxWidth:
		return invalid(ErrBadDocument, nil, "TIFF page %d: %d pixels wide, not %d"+faxTIFFHint, page, width, FaxWidth)
	case !near(xres, FaxXDPI, 6) || !(near(yres, FaxYDPIDefault, 3) || near(yres, FaxYDPIFine, 5)):
		return invalid(ErrBadDocument, nil, "TIFF page %d: resolution %.0f×%.0f dpi"+faxTIFFHint, page, xres, yres)
	}
	return nil
}

// near reports whether v is within tol of want; fax writers round 8 dots
// per millimetre (203.2 dpi) and 3.85 or 7.7 lines per millimetre
// (97.8, 195.6) differently.
func near(v, want, tol float64) bool { return math.Abs(v-want) <= tol }

// entryInt is the value of a SHORT or LONG entry of count 1; -1 otherwise.
func entryInt(order binary.ByteOrder, e tiffEntry) int {
	switch {
	case e.count != 1:
		return -1
	case e.typ == tiffShort:
		return int(order.Uint16(e.value[:]))
	case e.typ == tiffLong:
		return int(order.Uint32(e.value[:]))
	}
	return -1
}

// entryRational reads the RATIONAL an entry points to; a malformed one is
// -1, which no check accepts.
func entryRational(r io.ReaderAt, size int64, order binary.ByteOrder, e tiffEntry) (float64, error) {
	off := int64(order.Uint32(e.value[:]))
	if e.typ != tiffRational || e.count != 1 || off < 8 || off > size-8 {
		return -1, nil
	}
	var b [8]byte
	if err := readAt(r, b[:], off); err != nil {
		return 0, err
	}
	num, den := order.Uint32(b[:]), order.Uint32(b[4:])
	if den == 0 {
		return -1, nil
	}
	return float64(num) / float64(den), nil
}
