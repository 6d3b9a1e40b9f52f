"""Models beyond the chain: Hopfield memories, recursive (tree) networks, the linear-chain CRF, the HMM tagger."""
from .hopfield import (HopfieldNetwork, RecallResult, modern_hopfield_update, modern_hopfield_retrieve,  # noqa: F401
                       flip_bits, recall_statistics, RecallStatistics)
from .tree import Tree, TreeSchedule  # noqa: F401
from .recursive import TreeRNN, TreeLSTM, encode_trees, tree_rnn_cell, tree_lstm_cell  # noqa: F401
from .crf import LinearChainCRF, crf_log_partition, crf_path_score  # noqa: F401
from .hmm import HMMTagger  # noqa: F401
