"""Heads by name. Every head returns raw [N, P, C + 4*(reg_max+1)]: class logits, then bin logits."""
