"""Annotation tools: Label Studio, Prodigy and doccano.

Annotation tools: tasks for Label Studio, Prodigy and doccano, and spans between their
character offsets and nerqa's tokens (`task_formats`), and the Label Studio REST client
(`labelstudio`)."""
