"""Active learning: which unlabeled sentences to annotate next.

Active learning: which unlabeled sentences to annotate next (`select`): uncertainty
strategies, a diversity guard, streamed pools and pre-annotated batches."""
