"""Use cases: the scheduler, tokens, action execution, hydration and polling (domain + adapters)."""
