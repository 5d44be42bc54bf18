-- The W3C trace context (traceparent) of the write that enqueued an event:
-- the relay publishes the event as a child of it, so a request's trace
-- goes on through the broker to the subscribers. NULL when the write had
-- no trace context.
ALTER TABLE outbox ADD COLUMN traceparent text;
