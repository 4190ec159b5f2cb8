"""Datasets (COCO JSON, YOLO txt) and augmentations for training."""
