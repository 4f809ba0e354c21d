"""Interpretability tools: recording units, features as directions, feature visualization,
dataset examples, circuits, interventions and comparing networks."""
