package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// WriteLimit bounds each user's writes (POST, PATCH, PUT, DELETE): Rate
// per second sustained, Burst at once. Zero Rate means no limit.
type WriteLimit struct {
	Rate  float64
	Burst int
}

// DefaultWriteLimit is far above what a person does and low enough that one
// script cannot take the actors from everyone else.
var DefaultWriteLimit = WriteLimit{Rate: 20, Burst: 60}

// limiters holds one token bucket per user, dropping those idle long
// enough to be full again.
type limiters struct {
	limit WriteLimit
	mu    sync.Mutex
	users map[string]*userLimiter
	swept time.Time
}

type userLimiter struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(l WriteLimit) *limiters {
	return &limiters{limit: l, users: map[string]*userLimiter{}, swept: time.Now()}
}

// idle is how long a bucket must be unused to refill completely.
func (ls *limiters) idle() time.Duration {
	return time.Duration(float64(ls.limit.Burst)/ls.limit.Rate*float64(time.Second)) + time.Minute
}

// allow takes a token for user at now; when there is none it says how long
// until there is.
func (ls *limiters) allow(user string, now time.Time) (bool, time.Duration) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Sub(ls.swept) > time.Minute {
		for u, l := range ls.users {
			if now.Sub(l.seen) > ls.idle() {
				delete(ls.users, u)
			}
		}
		ls.swept = now
	}
	l, ok := ls.users[user]
	if !ok {
		l = &userLimiter{lim: rate.NewLimiter(rate.Limit(ls.limit.Rate), ls.limit.Burst)}
		ls.users[user] = l
	}
	l.seen = now
	r := l.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limitWrites answers 429 with Retry-After to a user over their write limit.
func limitWrites(l WriteLimit) fiber.Handler {
	if l.Rate <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	ls := newLimiters(l)
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodPost, fiber.MethodPatch, fiber.MethodPut, fiber.MethodDelete:
		default:
			return c.Next()
		}
		ok, wait := ls.allow(userID(c), time.Now())
		if ok {
			return c.Next()
		}
		secs := int(math.Ceil(wait.Seconds()))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		return problem(fiber.StatusTooManyRequests, "rate-limited", "Too many writes",
			"you are writing faster than "+strconv.FormatFloat(l.Rate, 'f', -1, 64)+" changes a second; retry after "+strconv.Itoa(secs)+" s")
	}
}
