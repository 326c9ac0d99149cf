"""The data layer: corpora, tags, formats, statistics and metrics, without torch.

The data: the corpus model (`corpus`), IOB tags and spans (`tags`), the readers and writers
(`formats`), sentence splitting and tokenising of raw text (`segment`), corpus statistics
(`stats`), word shapes (`shape`), seqeval scores (`metrics`) and pred_probs files (`probs`).
No torch: everything here imports without a model stack."""
