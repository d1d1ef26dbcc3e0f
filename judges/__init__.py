"""LLM-as-a-judge roles of Self-Rewarding / Meta-Rewarding LMs; imports only ``harness`` (and libraries).

- :mod:`judges.prompts`: the papers' prompt templates (``load_prompt``).
- :mod:`judges.parse`: score / winner / classifier parsers (None = parse failure, never a default).
- :mod:`judges.pointwise`: ``PointwiseJudge`` (N judgments per response, mean of the valid scores).
- :mod:`judges.pairwise`: ``PairwiseJudge`` (AlpacaEval's weighted classifier, both orders).
- :mod:`judges.meta`: ``MetaJudge``, position-weighted battle matrix, Bradley-Terry Elo, Table 5 biases.
"""
