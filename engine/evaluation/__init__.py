"""Evaluation: BLEU and chrF on held-out splits, scores by source length, and how names come
through (`evaluate`)."""
