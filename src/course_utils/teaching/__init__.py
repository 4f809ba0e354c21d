"""The book's own machinery: exercise checks, claims, plotting, widgets, the Colab set-up cell."""
