package safetensors

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// metadataKey is the reserved header member holding the string metadata.
const metadataKey = "__metadata__"

// maxHeaderSize is the reference implementation's limit on the header length.
const maxHeaderSize = 100_000_000

// entry is one tensor as the header describes it.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
	size       int // byte size implied by dtype and shape
}

// header is the parsed JSON header.
type header struct {
	entries  []entry
	metadata map[string]string
}

// parser is a strict JSON parser for exactly the header's grammar. It never
// recurses, so nesting cannot exhaust the stack, and it reports duplicate
// names, which encoding/json silently merges.
type parser struct {
	b   []byte
	pos int
}

func (p *parser) syntaxError(what string) error {
	if p.pos >= len(p.b) {
		return invalidf("header is not valid JSON: %s at end of header", what)
	}
	return invalidf("header is not valid JSON: %s at byte %d of the header (%q)", what, p.pos, p.b[p.pos])
}

func (p *parser) skipSpace() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after any whitespace, or 0 at the end.
func (p *parser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.b) {
		return 0
	}
	return p.b[p.pos]
}

// consume skips whitespace and the byte c, reporting whether c was there.
func (p *parser) consume(c byte) bool {
	if p.peek() == c {
		p.pos++
		return true
	}
	return false
}

// next skips whitespace and one of the bytes ',' or close, reporting whether
// it was close.
func (p *parser) next(close byte) (done bool, err error) {
	switch p.peek() {
	case ',':
		p.pos++
		return false, nil
	case close:
		p.pos++
		return true, nil
	}
	return false, p.syntaxError("expected ',' or '" + string(close) + "'")
}

// literal consumes the JSON literal word if it comes next.
func (p *parser) literal(word string) bool {
	p.skipSpace()
	if len(p.b)-p.pos >= len(word) && string(p.b[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

// key parses an object member name and the colon after it.
func (p *parser) key() (string, error) {
	if p.peek() != '"' {
		return "", p.syntaxError("expected a string member name")
	}
	k, err := p.str()
	if err != nil {
		return "", err
	}
	if !p.consume(':') {
		return "", p.syntaxError("expected ':'")
	}
	return k, nil
}

// str parses a JSON string starting at the opening quote. The header has
// already been checked to be valid UTF-8.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if c == '"' {
			s := string(p.b[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.syntaxError("control character in string")
		}
		p.pos++
	}
	buf := append([]byte(nil), p.b[start:p.pos]...)
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.syntaxError("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.b) {
			break
		}
		e := p.b[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 {
					return "", p.syntaxError("lone low surrogate in \\u escape")
				}
				if len(p.b)-p.pos < 2 || p.b[p.pos] != '\\' || p.b[p.pos+1] != 'u' {
					return "", p.syntaxError("lone high surrogate in \\u escape")
				}
				p.pos += 2
				r2, err := p.hex4()
				if err != nil {
					return "", err
				}
				if r2 < 0xdc00 || r2 > 0xdfff {
					return "", p.syntaxError("high surrogate not followed by a low surrogate")
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.pos--
			return "", p.syntaxError("invalid escape")
		}
	}
	return "", p.syntaxError("unterminated string")
}

func (p *parser) hex4() (rune, error) {
	if len(p.b)-p.pos < 4 {
		p.pos = len(p.b)
		return 0, p.syntaxError("short \\u escape")
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.b[p.pos]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, p.syntaxError("invalid hex digit in \\u escape")
		}
		p.pos++
	}
	return r, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// numProblem says what is wrong with a well-formed JSON number.
type numProblem int

const (
	numOK numProblem = iota
	numNegative
	numFraction
	numOverflow
)

func (n numProblem) String() string {
	switch n {
	case numNegative:
		return "is negative"
	case numFraction:
		return "is not an integer"
	case numOverflow:
		return "is too large"
	}
	return "ok"
}

// uint parses a JSON number that must be a non-negative integer no larger
// than limit. A syntax error is returned as err; a well-formed number that is
// negative, fractional or too large is reported in problem, with its text.
func (p *parser) uint(limit uint64) (v uint64, problem numProblem, text string, err error) {
	p.skipSpace()
	start := p.pos
	neg := false
	if p.pos < len(p.b) && p.b[p.pos] == '-' {
		neg = true
		p.pos++
	}
	if p.pos >= len(p.b) || !isDigit(p.b[p.pos]) {
		return 0, numOK, "", p.syntaxError("expected a number")
	}
	if p.b[p.pos] == '0' {
		p.pos++
	} else {
		for p.pos < len(p.b) && isDigit(p.b[p.pos]) {
			p.pos++
		}
	}
	intEnd := p.pos
	integral := true
	if p.pos < len(p.b) && p.b[p.pos] == '.' {
		p.pos++
		if p.pos >= len(p.b) || !isDigit(p.b[p.pos]) {
			return 0, numOK, "", p.syntaxError("expected a digit after '.'")
		}
		for p.pos < len(p.b) && isDigit(p.b[p.pos]) {
			p.pos++
		}
		integral = false
	}
	if p.pos < len(p.b) && (p.b[p.pos] == 'e' || p.b[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.b) && (p.b[p.pos] == '+' || p.b[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(p.b) || !isDigit(p.b[p.pos]) {
			return 0, numOK, "", p.syntaxError("expected a digit in exponent")
		}
		for p.pos < len(p.b) && isDigit(p.b[p.pos]) {
			p.pos++
		}
		integral = false
	}
	text = string(p.b[start:p.pos])
	switch {
	case neg:
		return 0, numNegative, text, nil
	case !integral:
		return 0, numFraction, text, nil
	}
	v, perr := strconv.ParseUint(string(p.b[start:intEnd]), 10, 64)
	if perr != nil || v > limit {
		return 0, numOverflow, text, nil
	}
	return v, numOK, text, nil
}

// parseHeader parses and checks the JSON header: syntax, member names, field
// types and per-tensor sizes. It does not look at the data offsets.
func parseHeader(b []byte) (*header, error) {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, invalidf("header is not valid UTF-8 (at byte %d of the header)", i)
	}
	p := &parser{b: b}
	switch c := p.peek(); {
	case p.pos >= len(p.b):
		return nil, invalidf("header is empty: it must be a JSON object")
	case c != '{':
		return nil, invalidf("header is not a JSON object (it starts with %q)", c)
	}
	p.pos++
	h := &header{}
	seen := make(map[string]bool)
	sawMetadata := false
	if !p.consume('}') {
		for {
			name, err := p.key()
			if err != nil {
				return nil, err
			}
			if name == metadataKey {
				if sawMetadata {
					return nil, invalidf("duplicate %s member", metadataKey)
				}
				sawMetadata = true
				if h.metadata, err = p.metadata(); err != nil {
					return nil, err
				}
			} else {
				if seen[name] {
					return nil, invalidf("duplicate tensor name %q", name)
				}
				seen[name] = true
				e, err := p.tensor(name)
				if err != nil {
					return nil, err
				}
				h.entries = append(h.entries, e)
			}
			done, err := p.next('}')
			if err != nil {
				return nil, err
			}
			if done {
				break
			}
		}
	}
	p.skipSpace()
	if p.pos != len(p.b) {
		return nil, invalidf("header has data after its JSON object at byte %d of the header (%q)", p.pos, p.b[p.pos])
	}
	return h, nil
}

// metadata parses the "__metadata__" value: null or an object of strings.
func (p *parser) metadata() (map[string]string, error) {
	if p.peek() == 0 {
		return nil, p.syntaxError("expected a value")
	}
	if p.literal("null") {
		return nil, nil
	}
	if !p.consume('{') {
		return nil, invalidf("%s is not a JSON object of strings", metadataKey)
	}
	m := make(map[string]string)
	if p.consume('}') {
		return m, nil
	}
	for {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, invalidf("duplicate %s key %q", metadataKey, k)
		}
		if p.peek() != '"' {
			return nil, invalidf("%s value for key %q is not a string", metadataKey, k)
		}
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		m[k] = v
		done, err := p.next('}')
		if err != nil {
			return nil, err
		}
		if done {
			return m, nil
		}
	}
}

// tensor parses one tensor entry {"dtype":..,"shape":..,"data_offsets":..}.
func (p *parser) tensor(name string) (entry, error) {
	e := entry{name: name}
	if p.peek() == 0 {
		return e, p.syntaxError("expected a value")
	}
	if !p.consume('{') {
		return e, invalidf("tensor %q: entry is not a JSON object", name)
	}
	var haveDType, haveShape, haveOffsets bool
	if !p.consume('}') {
		for {
			field, err := p.key()
			if err != nil {
				return e, err
			}
			switch field {
			case "dtype":
				if haveDType {
					return e, invalidf("tensor %q: duplicate field %q", name, field)
				}
				haveDType = true
				if p.peek() != '"' {
					return e, invalidf("tensor %q: dtype is not a string", name)
				}
				s, err := p.str()
				if err != nil {
					return e, err
				}
				e.dtype = DType(s)
				if !e.dtype.Known() {
					return e, invalidf("tensor %q: unknown dtype %q", name, s)
				}
			case "shape":
				if haveShape {
					return e, invalidf("tensor %q: duplicate field %q", name, field)
				}
				haveShape = true
				if e.shape, err = p.shape(name); err != nil {
					return e, err
				}
			case "data_offsets":
				if haveOffsets {
					return e, invalidf("tensor %q: duplicate field %q", name, field)
				}
				haveOffsets = true
				if e.begin, e.end, err = p.offsets(name); err != nil {
					return e, err
				}
			default:
				return e, invalidf("tensor %q: unknown field %q", name, field)
			}
			done, err := p.next('}')
			if err != nil {
				return e, err
			}
			if done {
				break
			}
		}
	}
	switch {
	case !haveDType:
		return e, invalidf("tensor %q: missing field \"dtype\"", name)
	case !haveShape:
		return e, invalidf("tensor %q: missing field \"shape\"", name)
	case !haveOffsets:
		return e, invalidf("tensor %q: missing field \"data_offsets\"", name)
	}
	size, err := byteSize(e.dtype, e.shape)
	if err != nil {
		return e, invalidf("tensor %q: %v", name, err)
	}
	e.size = size
	return e, nil
}

// shape parses an array of dimensions.
func (p *parser) shape(name string) ([]int, error) {
	if !p.consume('[') {
		return nil, invalidf("tensor %q: shape is not a JSON array", name)
	}
	shape := []int{}
	if p.consume(']') {
		return shape, nil
	}
	for {
		if c := p.peek(); c != '-' && !isDigit(c) {
			return nil, invalidf("tensor %q: shape[%d] is not an integer", name, len(shape))
		}
		v, problem, text, err := p.uint(math.MaxInt)
		switch {
		case err != nil:
			return nil, err
		case problem == numNegative:
			return nil, invalidf("tensor %q: negative dimension %s in shape[%d]", name, text, len(shape))
		case problem != numOK:
			return nil, invalidf("tensor %q: shape[%d] %v (%s)", name, len(shape), problem, text)
		}
		shape = append(shape, int(v))
		done, err := p.next(']')
		if err != nil {
			return nil, err
		}
		if done {
			return shape, nil
		}
	}
}

// offsets parses the [begin, end] pair.
func (p *parser) offsets(name string) (begin, end uint64, err error) {
	bad := func() error {
		return invalidf("tensor %q: data_offsets is not an array of two non-negative integers", name)
	}
	if !p.consume('[') {
		return 0, 0, bad()
	}
	var v [2]uint64
	for i := range v {
		if c := p.peek(); c != '-' && !isDigit(c) {
			return 0, 0, bad()
		}
		x, problem, text, err := p.uint(math.MaxUint64)
		switch {
		case err != nil:
			return 0, 0, err
		case problem != numOK:
			return 0, 0, invalidf("tensor %q: data_offsets[%d] %v (%s)", name, i, problem, text)
		}
		v[i] = x
		if i == 0 && !p.consume(',') {
			return 0, 0, bad()
		}
	}
	if !p.consume(']') {
		return 0, 0, bad()
	}
	return v[0], v[1], nil
}
