"""Evaluation shared by every platform: gen_qa metrics, LLM-judge statistics, Nova result files.

The SageMaker platform reads what Nova's evaluation jobs wrote; the local platform computes the same
numbers with this code, so a gate compares like with like whichever platform produced them.
"""
