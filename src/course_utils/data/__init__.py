"""Images and the datasets that hold them: the container, the loaders, photos, generated images."""
