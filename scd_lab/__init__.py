"""scd_lab: SCD (Semantic-guided Consistency and Discrimination) for Siamese self-supervised
learning, with BYOL, MoCo-v2 and LEWEL to compare against."""
__version__ = "0.1.0"
