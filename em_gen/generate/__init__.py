"""Generation: plan -> prompt -> runner (limiter, retries, budget) -> journal, and the statistics and
revalidation read back from the journal."""
