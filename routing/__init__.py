"""The routing core: which candidate serves a request, and what a failure means. No SQL, no HTTP: it talks
through the Protocols of routing/ports.py.

- pure policy (checked by tests/test_layering.py): `decide` (ranking) on `filters`, `target`, `reason` and
  `score`; `failover.action_for` (what an error does); `classify` and `analyse` (the task); `types`;
- the request's path: `router.Router` (analyse -> decide -> attempts -> log) runs `attempt.AttemptRunner` (reserve
  -> call -> settle -> act) and returns `results.RouteResult` or raises a `results.RouteError`;
  `request` holds what it is asked (`RouteRequest`) and routes by (`RouterSetup`).
"""
