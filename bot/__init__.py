"""Bedre Psykiatri's member bot: sourced answers from the association's policy material."""
