"""The review loop: decisions on audit issues, stored and applied.

The review loop: decisions on audit issues (stored in SQLite), a review session (queue,
undo, same-form propagation, bulk acceptance), corrections applied to the corpus, and review
tasks for annotation tools."""
