"""The lowest layer: talking to LLM providers, and the vocabulary every other package shares.

- the three wires, each an adapter (`ChatAdapter`, providers/adapter.py) split by job: `openai_compat`,
  `anthropic`, `gemini` (the adapter) beside `<wire>_request` (the body), `<wire>_reply` (a reply, usage,
  finish reason), `<wire>_stream` (stream assembly) and `<wire>_errors` / `google_errors` (error bodies);
  `registry.make_adapter` picks one for an `Endpoint`;
- one module per cross-cutting rule: `errors` (the taxonomy and the `ErrorVerdict` every wire's classifier
  returns), `ratelimits` (rate-limit and retry headers of all three wires), `calendar` (local midnights and month
  starts in a zone), `clock` (the only wall-clock read), `attempts` (one try at one candidate);
- values and configuration: `types`, `models`, `vendors`, `catalog`, `credentials`;
- `simulator`: a loopback server speaking all three wires, for tests, the demo and the bench.
"""
