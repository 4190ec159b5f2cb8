"""Kestrel's trainer: datasets, augmentation, assignment, losses, training loop, COCO evaluation."""
