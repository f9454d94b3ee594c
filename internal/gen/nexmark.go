package gen

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// NexmarkConfig configures the Nexmark event stream.
type NexmarkConfig struct {
	Seed            int64
	EventsPerSecond int64 // spacing of event times: 1e6/EventsPerSecond microseconds per event; 0 means 100_000
	BaseTime        int64 // event time of event 0, microseconds since epoch; 0 means 2026-01-01T00:00:00Z
}

// Model constants of the reference Nexmark generator.
const (
	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5

	numInFlightAuctions = 100
	numActivePeople     = 1000
	personIDLead        = 10
	auctionIDLead       = 10

	// Hot auctions, sellers and bidders are the first (bidders: second) of each
	// batch of this many recent auctions or people.
	hotAuctionBatch = 100
	hotSellerBatch  = 100
	hotBidderBatch  = 100

	// A choice is hot unless a draw in [0, ratio) is 0: P(hot) = 1 - 1/ratio.
	// Bids draw these from bits of one random word, so the ratios used there (and
	// the number of hot channels) must be powers of two.
	hotAuctionRatio  = 2
	hotSellersRatio  = 4
	hotBiddersRatio  = 4
	hotChannelsRatio = 2

	numChannels = 10_000

	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	totalProportion   = personProportion + auctionProportion + bidProportion

	// Average event sizes in bytes; the extra field pads events to them.
	avgPersonByteSize  = 200
	avgAuctionByteSize = 500
	avgBidByteSize     = 100

	minStringLength = 3

	defaultEventsPerSecond = 100_000

	// A bid's extra pads it to avgBidByteSize on average, as appendExtra would for
	// its 32 bytes of fixed fields: bidExtraMin + [0, bidExtraSpread) letters.
	bidExtraAvg    = avgBidByteSize - 4*8
	bidExtraDelta  = (bidExtraAvg*2 + 5) / 10 // round(20%)
	bidExtraMin    = bidExtraAvg - bidExtraDelta
	bidExtraSpread = 2 * bidExtraDelta

	nexmarkSalt  = 0x6E65786D61726B31
	channelSalt  = 0x6368616E6E656C73
	hotURLSalt   = 0x686F7475726C7331
	nexmarkKinds = "person, auction, bid"
)

type nexmarkKind int

const (
	kindPerson nexmarkKind = iota
	kindAuction
	kindBid
)

// offsets of each kind within an epoch of totalProportion events: [lo, hi).
func (k nexmarkKind) offsets() (lo, hi int64) {
	switch k {
	case kindPerson:
		return 0, personProportion
	case kindAuction:
		return personProportion, personProportion + auctionProportion
	default:
		return personProportion + auctionProportion, totalProportion
	}
}

var tsMillis = &arrow.TimestampType{Unit: arrow.Millisecond}

var (
	personSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "email_address", Type: arrow.BinaryTypes.String},
		{Name: "credit_card", Type: arrow.BinaryTypes.String},
		{Name: "city", Type: arrow.BinaryTypes.String},
		{Name: "state", Type: arrow.BinaryTypes.String},
		{Name: "date_time", Type: tsMillis},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
	auctionSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "item_name", Type: arrow.BinaryTypes.String},
		{Name: "description", Type: arrow.BinaryTypes.String},
		{Name: "initial_bid", Type: arrow.PrimitiveTypes.Int64},
		{Name: "reserve", Type: arrow.PrimitiveTypes.Int64},
		{Name: "date_time", Type: tsMillis},
		{Name: "expires", Type: tsMillis},
		{Name: "seller", Type: arrow.PrimitiveTypes.Int64},
		{Name: "category", Type: arrow.PrimitiveTypes.Int64},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
	bidSchema = arrow.NewSchema([]arrow.Field{
		{Name: "auction", Type: arrow.PrimitiveTypes.Int64},
		{Name: "bidder", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64},
		{Name: "channel", Type: arrow.BinaryTypes.String},
		{Name: "url", Type: arrow.BinaryTypes.String},
		{Name: "date_time", Type: tsMillis},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
)

var (
	usStates    = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames  = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	hotChannels = [4]string{"Google", "Facebook", "Baidu", "Apple"}
)

type nexmark struct {
	kind   nexmarkKind
	schema *arrow.Schema
	seed   uint64
	clk    clock
	chans  *channelTable // bids only
}

// NewNexmark returns the generator of one Nexmark event kind: "person", "auction" or "bid"
// (anything else: an error naming the kind and listing the valid ones).
func NewNexmark(cfg NexmarkConfig, kind string) (Generator, error) {
	g := &nexmark{}
	switch kind {
	case "person":
		g.kind, g.schema = kindPerson, personSchema
	case "auction":
		g.kind, g.schema = kindAuction, auctionSchema
	case "bid":
		g.kind, g.schema = kindBid, bidSchema
	default:
		return nil, rberr.New(rberr.Plan, "unknown nexmark event kind %q (valid kinds: %s)", kind, nexmarkKinds)
	}
	clk, err := newClock(cfg.BaseTime, cfg.EventsPerSecond, defaultEventsPerSecond, "nexmark EventsPerSecond")
	if err != nil {
		return nil, err
	}
	g.clk = clk
	g.seed = mix64(uint64(cfg.Seed) ^ nexmarkSalt)
	if g.kind == kindBid {
		g.chans = newChannelTable(g.seed)
	}
	return g, nil
}

func (g *nexmark) Schema() *arrow.Schema { return g.schema }

func (g *nexmark) EventTime(i int64) int64 { return g.clk.at(i) }

// millis is the date_time of event i: its event time in milliseconds.
func (g *nexmark) millis(i int64) int64 { return floorDiv(g.clk.at(i), 1000) }

func (g *nexmark) Rows(mem memory.Allocator, start, end int64) (arrow.RecordBatch, error) {
	if err := checkRange(start, end); err != nil {
		return nil, err
	}
	lo, hi := g.kind.offsets()
	n64 := countEvents(end, lo, hi) - countEvents(start, lo, hi)
	if n64 > math.MaxInt32 {
		return nil, rberr.New(rberr.InvalidArgument, "nexmark row range [%d, %d) is too large for one batch", start, end)
	}
	n := int(n64)
	first := firstEvent(start, lo, hi)
	switch g.kind {
	case kindPerson:
		return g.people(mem, first, n)
	case kindAuction:
		return g.auctions(mem, first, n)
	default:
		return g.bids(mem, first, n)
	}
}

// countEvents returns how many events in [0, x) have an epoch offset in [lo, hi).
func countEvents(x, lo, hi int64) int64 {
	epochs, off := x/totalProportion, x%totalProportion
	return epochs*(hi-lo) + min(max(off-lo, 0), hi-lo)
}

// firstEvent returns the first event id >= x with an epoch offset in [lo, hi).
func firstEvent(x, lo, hi int64) int64 {
	off := x % totalProportion
	switch {
	case off < lo:
		return x + lo - off
	case off >= hi:
		return x + totalProportion - off + lo
	default:
		return x
	}
}

// lastBase0PersonID is the id (from 0) of the last person generated at or
// before event eventID: the current person's id for a person event.
func lastBase0PersonID(eventID int64) int64 {
	epoch, offset := eventID/totalProportion, eventID%totalProportion
	if offset >= personProportion {
		offset = personProportion - 1
	}
	return epoch*personProportion + offset
}

// lastBase0AuctionID is the id (from 0) of the last auction generated at or
// before event eventID: the current auction's id for an auction event.
func lastBase0AuctionID(eventID int64) int64 {
	epoch, offset := eventID/totalProportion, eventID%totalProportion
	switch {
	case offset < personProportion:
		epoch--
		offset = auctionProportion - 1
	case offset >= personProportion+auctionProportion:
		offset = auctionProportion - 1
	default:
		offset -= personProportion
	}
	return epoch*auctionProportion + offset
}

// nextBase0PersonID picks one of the active people, or one a little ahead of
// the last person generated.
func nextBase0PersonID(eventID int64, r *rng) int64 {
	numPeople := lastBase0PersonID(eventID) + 1
	active := min(numPeople, numActivePeople)
	return numPeople - active + r.int63n(active+personIDLead)
}

// nextBase0AuctionID picks one of the auctions likely still in flight, or one a
// little ahead of the last auction generated.
func nextBase0AuctionID(eventID int64, r *rng) int64 {
	maxAuction := lastBase0AuctionID(eventID)
	minAuction := max(maxAuction-numInFlightAuctions, 0)
	return minAuction + r.int63n(maxAuction-minAuction+1+auctionIDLead)
}

// nextPrice returns round(10^(6u) * 100) for u uniform in [0, 1): prices from 1.00
// to 1,000,000.00 in cents, log-uniformly distributed.
func nextPrice(r *rng) int64 {
	return priceOf(r.float64())
}

// priceSteps is the resolution of the price table: 10^(6u) is looked up at
// u = k/priceSteps and refined with a short series for the rest.
const priceSteps = 6 * 256

// priceTable[k] = 100 * 10^(6k/priceSteps).
var priceTable = func() (t [priceSteps + 1]float64) {
	for k := range t {
		t[k] = 100 * math.Pow(10, 6*float64(k)/priceSteps)
	}
	return t
}()

func priceOf(u float64) int64 {
	t := u * priceSteps
	k := int(t)
	// exp(x) for x in [0, ln(10)*6/priceSteps) < 0.009, to a relative error below 1e-12.
	x := (t - float64(k)) * (6 * math.Ln10 / priceSteps)
	e := 1 + x*(1+x*(1.0/2+x*(1.0/6+x*(1.0/24))))
	return int64(priceTable[k]*e + 0.5)
}

// randomString appends to dst a random string of minStringLength to
// maxLength-1 characters: lowercase letters with, 1 time in 13, the special
// character. If trim is set, leading and trailing special characters are removed.
// It appends at most maxLength-1 bytes.
func randomString(dst []byte, r *rng, maxLength int, special byte, trim bool) []byte {
	n := minStringLength + r.intn(maxLength-minStringLength)
	base := len(dst)
	for range n {
		// One draw decides both: 26 of 338 values (1 in 13) give the special character.
		v := r.bounded(13 * 26)
		if v < 26 {
			dst = append(dst, special)
		} else {
			dst = append(dst, 'a'+byte(v%26))
		}
	}
	if !trim {
		return dst
	}
	s := dst[base:]
	j := len(s)
	for j > 0 && s[j-1] == special {
		j--
	}
	i := 0
	for i < j && s[i] == special {
		i++
	}
	if i > 0 {
		copy(s, s[i:j])
	}
	return dst[:base+j-i]
}

// appendRandomString writes a randomString to the current row of c.
func appendRandomString(c *strCol, r *rng, maxLength int, special byte, trim bool) {
	c.grow(maxLength)
	c.data = randomString(c.data, r, maxLength, special, trim)
}

// appendExactString writes n random lowercase letters.
func appendExactString(c *strCol, r *rng, n int) {
	c.grow(n)
	base := len(c.data)
	c.data = c.data[:base+n]
	s := c.data[base:]
	for len(s) >= 8 {
		binary.LittleEndian.PutUint64(s, letters8(r.next()))
		s = s[8:]
	}
	if len(s) > 0 {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], letters8(r.next()))
		copy(s, tail[:])
	}
}

// letters8 maps each byte b of x to the letter 'a' + b*26/256, eight at a time:
// the products of the even and odd bytes are formed in 16-bit lanes.
func letters8(x uint64) uint64 {
	const lanes = 0x00FF00FF00FF00FF
	even := ((x & lanes) * 26 >> 8) & lanes
	odd := (((x >> 8) & lanes) * 26 >> 8) & lanes
	return (even | odd<<8) + 0x6161616161616161
}

// appendExtra writes padding so that currentSize plus the padding is on average
// desiredAverageSize (uniform within ±20% of the padding).
func appendExtra(c *strCol, r *rng, currentSize, desiredAverageSize int) {
	if currentSize > desiredAverageSize {
		return
	}
	desired := desiredAverageSize - currentSize
	delta := int(math.Round(float64(desired) * 0.2))
	size := desired - delta
	if delta != 0 {
		size += r.intn(2 * delta)
	}
	appendExactString(c, r, size)
}

func (g *nexmark) people(mem memory.Allocator, eid int64, n int) (arrow.RecordBatch, error) {
	ids := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	names := newStrCol(mem, n, 12)
	emails := newStrCol(mem, n, 18)
	cards := newStrCol(mem, n, 19)
	cities := newStrCol(mem, n, 8)
	states := newStrCol(mem, n, 2)
	times := newFixedCol[int64](mem, tsMillis, n)
	extras := newStrCol(mem, n, avgPersonByteSize-70)
	var digits [4]byte
	for k := range n {
		r := newRand(g.seed, eid)
		ids.v[k] = lastBase0PersonID(eid) + firstPersonID

		names.appendString(firstNames[r.intn(len(firstNames))])
		names.appendString(" ")
		names.appendString(lastNames[r.intn(len(lastNames))])
		size := 8 + names.rowLen()
		names.end()

		appendRandomString(emails, &r, 7, ' ', true)
		emails.appendString("@")
		appendRandomString(emails, &r, 5, ' ', true)
		emails.appendString(".com")
		size += emails.rowLen()
		emails.end()

		for j := range 4 {
			if j > 0 {
				cards.appendString(" ")
			}
			v := r.intn(10000)
			digits[0] = '0' + byte(v/1000)
			digits[1] = '0' + byte(v/100%10)
			digits[2] = '0' + byte(v/10%10)
			digits[3] = '0' + byte(v%10)
			cards.appendBytes(digits[:])
		}
		size += cards.rowLen()
		cards.end()

		city := usCities[r.intn(len(usCities))]
		cities.add(city)
		state := usStates[r.intn(len(usStates))]
		states.add(state)
		size += len(city) + len(state)

		times.v[k] = g.millis(eid)
		appendExtra(extras, &r, size, avgPersonByteSize)
		extras.end()

		eid++
		if eid%totalProportion == personProportion {
			eid += totalProportion - personProportion
		}
	}
	return assemble(personSchema, n, ids, names, emails, cards, cities, states, times, extras)
}

func (g *nexmark) auctions(mem memory.Allocator, eid int64, n int) (arrow.RecordBatch, error) {
	ids := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	items := newStrCol(mem, n, 11)
	descs := newStrCol(mem, n, 50)
	initials := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	reserves := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	times := newFixedCol[int64](mem, tsMillis, n)
	expires := newFixedCol[int64](mem, tsMillis, n)
	sellers := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	cats := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	extras := newStrCol(mem, n, avgAuctionByteSize-100)
	// Events until numInFlightAuctions more auctions have been generated.
	const eventsForAuctions = numInFlightAuctions * totalProportion / auctionProportion
	for k := range n {
		r := newRand(g.seed, eid)
		ids.v[k] = lastBase0AuctionID(eid) + firstAuctionID

		var seller int64
		if r.intn(hotSellersRatio) > 0 {
			seller = (lastBase0PersonID(eid) / hotSellerBatch) * hotSellerBatch
		} else {
			seller = nextBase0PersonID(eid, &r)
		}
		sellers.v[k] = seller + firstPersonID
		cats.v[k] = firstCategoryID + int64(r.intn(numCategories))

		initial := nextPrice(&r)
		initials.v[k] = initial
		ts := g.millis(eid)
		times.v[k] = ts
		// Auctions last on average as long as it takes to generate numInFlightAuctions more.
		horizon := g.millis(eid+eventsForAuctions) - ts
		expires.v[k] = ts + 1 + r.int63n(max(2*horizon, 1))

		appendRandomString(items, &r, 20, ' ', true)
		size := 8 + items.rowLen()
		items.end()
		appendRandomString(descs, &r, 100, ' ', true)
		size += descs.rowLen() + 8*5
		descs.end()
		reserves.v[k] = initial + nextPrice(&r)

		appendExtra(extras, &r, size, avgAuctionByteSize)
		extras.end()

		eid++
		if eid%totalProportion == personProportion+auctionProportion {
			eid += totalProportion - auctionProportion
		}
	}
	return assemble(auctionSchema, n, ids, items, descs, initials, reserves, times, expires, sellers, cats, extras)
}

func (g *nexmark) bids(mem memory.Allocator, eid int64, n int) (arrow.RecordBatch, error) {
	auctions := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	bidders := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	prices := newFixedCol[int64](mem, arrow.PrimitiveTypes.Int64, n)
	channels := newStrCol(mem, n, 10)
	urls := newStrCol(mem, n, 66)
	times := newFixedCol[int64](mem, tsMillis, n)
	extras := newStrCol(mem, n, bidExtraAvg+1)
	chans := g.chans
	off := eid % totalProportion
	for k := range n {
		r := newRand(g.seed, eid)
		// One draw makes the small choices: bit 0 hot auction (1 - 1/hotAuctionRatio),
		// bits 1-2 hot bidder (1 - 1/hotBiddersRatio), bit 3 hot channel
		// (1 - 1/hotChannelsRatio), bits 4-5 which hot channel, bits 8-31 the extra's
		// length and bits 32-63 the other channel.
		d := r.next()

		var auction int64
		if d&(hotAuctionRatio-1) != 0 {
			auction = (lastBase0AuctionID(eid) / hotAuctionBatch) * hotAuctionBatch
		} else {
			auction = nextBase0AuctionID(eid, &r)
		}
		auctions.v[k] = auction + firstAuctionID

		var bidder int64
		if (d>>1)&(hotBiddersRatio-1) != 0 {
			// The second person of the batch, so hot bidders and hot sellers differ.
			bidder = (lastBase0PersonID(eid)/hotBidderBatch)*hotBidderBatch + 1
		} else {
			bidder = nextBase0PersonID(eid, &r)
		}
		bidders.v[k] = bidder + firstPersonID

		prices.v[k] = nextPrice(&r)

		if (d>>3)&(hotChannelsRatio-1) != 0 {
			i := (d >> 4) & (uint64(len(hotChannels)) - 1)
			channels.add(hotChannels[i])
			urls.add(chans.hotURLs[i])
		} else {
			i := int((d >> 32) * numChannels >> 32)
			o := chans.offs[2*i : 2*i+3]
			channels.add(chans.blob[o[0]:o[1]])
			urls.add(chans.blob[o[1]:o[2]])
		}

		times.v[k] = g.millis(eid)
		appendExactString(extras, &r, bidExtraMin+int(((d>>8)&0xFFFFFF)*bidExtraSpread>>24))
		extras.end()

		eid++
		off++
		if off == totalProportion {
			off = personProportion + auctionProportion
			eid += off
		}
	}
	return assemble(bidSchema, n, auctions, bidders, prices, channels, urls, times, extras)
}

// channelTable holds the bid channels and their URLs, derived from the seed.
// Channel i's name is blob[offs[2i]:offs[2i+1]] and its URL
// blob[offs[2i+1]:offs[2i+2]], so a lookup touches one small index and one
// contiguous run of bytes.
type channelTable struct {
	hotURLs []string
	blob    string
	offs    []int32
}

func newChannelTable(seed uint64) *channelTable {
	var blob []byte
	baseURL := func(r *rng) {
		blob = append(blob, "https://www.nexmark.com/"...)
		for range 3 {
			blob = randomString(blob, r, 5, '_', false)
			blob = append(blob, '/')
		}
		blob = append(blob, "item.htm?query=1"...)
	}
	t := &channelTable{hotURLs: make([]string, len(hotChannels))}
	for i := range hotChannels {
		r := newRand(seed^hotURLSalt, int64(i))
		baseURL(&r)
		t.hotURLs[i] = string(blob)
		blob = blob[:0]
	}
	t.offs = make([]int32, 0, 2*numChannels+1)
	for i := range numChannels {
		r := newRand(seed^channelSalt, int64(i))
		t.offs = append(t.offs, int32(len(blob)))
		blob = strconv.AppendInt(append(blob, "channel-"...), int64(i), 10)
		t.offs = append(t.offs, int32(len(blob)))
		baseURL(&r)
		if r.intn(10) > 0 {
			id := int64(int32(bits.Reverse32(uint32(i))))
			blob = strconv.AppendInt(append(blob, "&channel_id="...), max(id, -id), 10)
		}
	}
	t.offs = append(t.offs, int32(len(blob)))
	t.blob = string(blob)
	return t
}
