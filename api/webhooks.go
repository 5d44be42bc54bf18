package api

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

// WebhookStore keeps users' webhooks (postgres.Webhooks); every method
// sees only userID's, and webhook.ErrNotFound stands for another user's.
type WebhookStore interface {
	Create(ctx context.Context, userID, url string, eventTypes []string, secret string) (webhook.Webhook, error)
	List(ctx context.Context, userID string) ([]webhook.Webhook, error)
	Get(ctx context.Context, userID string, id uuid.UUID) (webhook.Webhook, error)
	Update(ctx context.Context, userID string, id uuid.UUID, p webhook.Patch) (webhook.Webhook, error)
	Delete(ctx context.Context, userID string, id uuid.UUID) error
	RotateSecret(ctx context.Context, userID string, id uuid.UUID, secret string) error
	Deliveries(ctx context.Context, userID string, id uuid.UUID, limit int) ([]webhook.Delivery, error)
}

// Deliveries listed per page of GET /webhooks/{id}/deliveries.
const (
	DefaultDeliveryLimit = 50
	MaxDeliveryLimit     = 200
)

type webhookHandlers struct {
	store        WebhookStore
	allowPrivate bool
	callTimeout  time.Duration
}

func (h *webhookHandlers) ctx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), h.callTimeout)
}

func (h *webhookHandlers) routes(v1 fiber.Router) {
	v1.Post("/webhooks", h.create)
	v1.Get("/webhooks", h.list)
	v1.Get("/webhooks/:id", h.get)
	v1.Patch("/webhooks/:id", h.update)
	v1.Delete("/webhooks/:id", h.delete)
	v1.Post("/webhooks/:id/rotate-secret", h.rotate)
	v1.Get("/webhooks/:id/deliveries", h.deliveries)
}

// withSecret is a webhook as its create (or rotation) answers it: the
// only time the secret is shown.
type withSecret struct {
	webhook.Webhook
	Secret string `json:"secret"`
}

func (h *webhookHandlers) create(c *fiber.Ctx) error {
	m, err := object(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	f := &fields{m: m}
	f.only("webhook", "url", "event_types")
	url := h.url(f, true)
	types := eventTypes(f, true)
	if err := invalidWebhook(f); err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	w, err := h.store.Create(ctx, userID(c), *url, types, secret)
	if err != nil {
		return err
	}
	c.Location("/api/v1/webhooks/" + w.ID.String())
	return c.Status(fiber.StatusCreated).JSON(withSecret{Webhook: w, Secret: secret})
}

func (h *webhookHandlers) list(c *fiber.Ctx) error {
	ctx, cancel := h.ctx(c)
	defer cancel()
	items, err := h.store.List(ctx, userID(c))
	if err != nil {
		return err
	}
	if items == nil {
		items = []webhook.Webhook{}
	}
	return c.JSON(fiber.Map{"items": items})
}

func (h *webhookHandlers) get(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	w, err := h.store.Get(ctx, userID(c), id)
	if err != nil {
		return err
	}
	return c.JSON(w)
}

// update changes url, event_types or active: {"active": true} re-enables a
// disabled webhook and forgets its failures.
func (h *webhookHandlers) update(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	m, err := object(c, fiber.MIMEApplicationJSON, "application/merge-patch+json")
	if err != nil {
		return err
	}
	f := &fields{m: m}
	f.only("webhook", "url", "event_types", "active")
	var p webhook.Patch
	if f.has("url") {
		p.URL = h.url(f, false)
	}
	if f.has("event_types") {
		p.EventTypes = eventTypes(f, false)
	}
	if f.has("active") {
		if f.isNull("active") {
			f.v.Add("active", "must be true or false")
		} else if b, ok := decodeInto[bool](f, "active", "true or false"); ok {
			p.Active = &b
		}
	}
	if err := invalidWebhook(f); err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	w, err := h.store.Update(ctx, userID(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(w)
}

func (h *webhookHandlers) delete(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	if err := h.store.Delete(ctx, userID(c), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// rotate replaces the signing secret; the next attempt is signed with
// the new one.
func (h *webhookHandlers) rotate(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	if err := h.store.RotateSecret(ctx, userID(c), id, secret); err != nil {
		return err
	}
	w, err := h.store.Get(ctx, userID(c), id)
	if err != nil {
		return err
	}
	return c.JSON(withSecret{Webhook: w, Secret: secret})
}

func (h *webhookHandlers) deliveries(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	limit := DefaultDeliveryLimit
	var bad error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		switch key := string(k); {
		case bad != nil:
		case key != "limit":
			bad = badParam(key, "is not a parameter of this list (use limit)")
		default:
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 || n > MaxDeliveryLimit {
				bad = badParam("limit", "must be an integer between 1 and "+strconv.Itoa(MaxDeliveryLimit))
			}
			limit = n
		}
	})
	if bad != nil {
		return bad
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	items, err := h.store.Deliveries(ctx, userID(c), id, limit)
	if err != nil {
		return err
	}
	if items == nil {
		items = []webhook.Delivery{}
	}
	return c.JSON(fiber.Map{"items": items})
}

// url decodes and checks the url field (required on create).
func (h *webhookHandlers) url(f *fields, required bool) *string {
	if !f.has("url") {
		if required {
			f.v.Add("url", "is required")
		}
		return nil
	}
	s, ok := f.str("url")
	if !ok {
		return nil
	}
	u, err := webhook.NormalizeURL(s, h.allowPrivate)
	if err != nil {
		f.v.Add("url", "%s", err.Error())
		return nil
	}
	return &u
}

// eventTypes decodes and checks the event_types field.
func eventTypes(f *fields, required bool) []string {
	if !f.has("event_types") {
		if required {
			f.v.Add("event_types", `is required: a list of event types, or ["*"] for all`)
		}
		return nil
	}
	types, ok := f.strs("event_types")
	if !ok {
		return nil
	}
	out, err := webhook.NormalizeEventTypes(types)
	if err != nil {
		f.v.Add("event_types", "%s", err.Error())
	}
	return out
}

// only records every member of the body that is not one of names.
func (f *fields) only(what string, names ...string) {
	for name := range f.m {
		if !contains(names, name) {
			f.v.Add(name, "is not a field of a %s", what)
		}
	}
}

func invalidWebhook(f *fields) error {
	var ve *task.ValidationError
	if errors.As(f.v.Err(), &ve) {
		return problem(fiber.StatusUnprocessableEntity, "validation", "Invalid webhook",
			"one or more fields are invalid; see errors", ve.Fields...)
	}
	return nil
}

func webhookID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, badParam("id", "must be a webhook id (a UUID)")
	}
	return id, nil
}
