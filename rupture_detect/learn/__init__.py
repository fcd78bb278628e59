"""Learning: features, the fused classifier, training, evaluation and agreement, the annotated corpus
and the AnnoMI development set (ids and codes only)."""
