"""Annotation tools: tasks for Label Studio, Prodigy and doccano, and spans between their
character offsets and nerqa's tokens (`tasks`)."""
