"""The network: its operations, models, training, the model zoo and receptive fields."""
