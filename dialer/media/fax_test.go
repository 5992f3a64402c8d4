package media

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// faxPage is the tags of one TIFF page for faxTIFF; 0 leaves a tag out.
type faxPage struct {
	compression, width, bits, unit uint16
	xres, yres                     [2]uint32 // numerator, denominator
}

var finePage = faxPage{compression: 4, width: 1728, unit: 2, xres: [2]uint32{204, 1}, yres: [2]uint32{196, 1}}

// faxTIFF builds a little-endian TIFF of the pages given, without image
// data: CheckFaxTIFF reads directories only.
func faxTIFF(pages ...faxPage) []byte {
	o := binary.LittleEndian
	b := []byte("II*\x00\x08\x00\x00\x00")
	for i, p := range pages {
		type entry struct {
			tag, typ uint16
			value    uint32
		}
		var es []entry
		short := func(tag, v uint16) {
			if v != 0 {
				es = append(es, entry{tag, 3, uint32(v)})
			}
		}
		short(256, p.width)
		short(258, p.bits)
		short(259, p.compression)
		dir := len(b)
		n := len(es) + 2
		if p.unit != 0 {
			n++
		}
		ratAt := uint32(dir + 2 + 12*n + 4) // the two RATIONALs follow the directory
		es = append(es, entry{282, 5, ratAt}, entry{283, 5, ratAt + 8})
		if p.unit != 0 {
			es = append(es, entry{296, 3, uint32(p.unit)})
		}
		b = o.AppendUint16(b, uint16(len(es)))
		for _, e := range es {
			b = o.AppendUint16(b, e.tag)
			b = o.AppendUint16(b, e.typ)
			b = o.AppendUint32(b, 1)
			b = o.AppendUint32(b, e.value)
		}
		next := uint32(0)
		if i+1 < len(pages) {
			next = ratAt + 16
		}
		b = o.AppendUint32(b, next)
		b = o.AppendUint32(b, p.xres[0])
		b = o.AppendUint32(b, p.xres[1])
		b = o.AppendUint32(b, p.yres[0])
		b = o.AppendUint32(b, p.yres[1])
	}
	return b
}

func TestCheckFaxTIFF(t *testing.T) {
	with := func(f func(*faxPage)) faxPage { p := finePage; f(&p); return p }
	tests := []struct {
		name  string
		pages []faxPage
		want  string // "" accepted
	}{
		{"G4 fine", []faxPage{finePage}, ""},
		{"G3 standard, two pages", []faxPage{with(func(p *faxPage) { p.compression, p.yres = 3, [2]uint32{98, 1} }), finePage}, ""},
		{"8 dots per mm in cm", []faxPage{with(func(p *faxPage) { p.unit, p.xres, p.yres = 3, [2]uint32{80, 1}, [2]uint32{77, 1} })}, ""},
		{"bits per sample 1 said", []faxPage{with(func(p *faxPage) { p.bits = 1 })}, ""},
		{"uncompressed", []faxPage{with(func(p *faxPage) { p.compression = 1 })}, "compression 1"},
		{"compression left out", []faxPage{with(func(p *faxPage) { p.compression = 0 })}, "compression 1"},
		{"LZW second page", []faxPage{finePage, with(func(p *faxPage) { p.compression = 5 })}, "page 2: compression 5"},
		{"greyscale", []faxPage{with(func(p *faxPage) { p.bits = 8 })}, "not black and white"},
		{"A3 width", []faxPage{with(func(p *faxPage) { p.width = 2432 })}, "2432 pixels wide"},
		{"300 dpi", []faxPage{with(func(p *faxPage) { p.xres, p.yres = [2]uint32{300, 1}, [2]uint32{300, 1} })}, "300×300 dpi"},
		{"zero denominator", []faxPage{with(func(p *faxPage) { p.xres = [2]uint32{204, 0} })}, "resolution"},
		{"no resolution unit", []faxPage{with(func(p *faxPage) { p.unit = 1 })}, "no resolution unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := faxTIFF(tt.pages...)
			n, err := CheckFaxTIFF(bytes.NewReader(b), int64(len(b)))
			if tt.want == "" {
				if err != nil || n != len(tt.pages) {
					t.Fatalf("CheckFaxTIFF = %d, %v; want %d pages", n, err, len(tt.pages))
				}
				return
			}
			wantInvalid(t, err, ErrBadDocument, tt.want)
		})
	}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	_, err := CheckFaxTIFF(bytes.NewReader(pdf), int64(len(pdf)))
	wantInvalid(t, err, ErrNotDocument, "not a TIFF")
}

// Two directories sharing their entries, as no writer makes them, would
// let a small file make the walk read it many times over.
func TestWalkTIFFRefusesOverlappingDirectories(t *testing.T) {
	o := binary.LittleEndian
	b := make([]byte, 1300)
	copy(b, "II*\x00\x08\x00\x00\x00")
	o.PutUint16(b[8:], 100) // page 1: 100 entries at 10…1210
	for k := range 100 {
		o.PutUint16(b[10+12*k:], 0xffff) // a tag nobody reads
	}
	o.PutUint32(b[1210:], 20) // page 2 starts inside page 1's entries
	o.PutUint16(b[20:], 100)  // and claims 100 entries too
	visits := 0
	_, err := walkTIFF(bytes.NewReader(b), int64(len(b)), func(int, binary.ByteOrder, []tiffEntry) error {
		visits++
		return nil
	})
	wantInvalid(t, err, ErrBadDocument, "directories overlap")
	if visits != 1 {
		t.Fatalf("%d pages visited, want the first only", visits)
	}
}

// FuzzCheckFaxTIFF: any input ends in pages or a validation error, never a
// panic or an error of another kind.
func FuzzCheckFaxTIFF(f *testing.F) {
	f.Add(faxTIFF(finePage))
	f.Add(faxTIFF(finePage, finePage))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := CheckFaxTIFF(bytes.NewReader(b), int64(len(b)))
		if err == nil && n < 1 {
			t.Fatalf("accepted with %d pages", n)
		}
		if err != nil && dialer.ErrorCode(err) != dialer.CodeInvalid {
			t.Fatalf("error of another kind: %v", err)
		}
	})
}
