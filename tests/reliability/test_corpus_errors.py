"""Empty, binary and non-UTF-8 inputs: the error names the file and the place (line, byte
offset) instead of an IndexError or a bare UnicodeDecodeError; the CLI exits with code 2."""
import gzip

import numpy as np
import pytest

from tinygrad_rnn import datasets
from tinygrad_rnn.apps import cli
from tinygrad_rnn.backend import is_available
from tinygrad_rnn.textio import TextFileError
from tinygrad_rnn.word2vec import LineCorpus, Word2Vec
from tinygrad_rnn.word2vec.formats import load_word2vec_format, save_word2vec_format

BAD_TEXTS = {
    "empty": (b"", r"the file is empty; expected utf-8 text"),
    "binary": (b"line one\nab\x00cd", r"binary data, not text \(a NUL byte at line 2, byte offset 11\)"),
    "latin-1": (b"caf\xc3\xa9\nna\xefve\n", r"not utf-8 text: byte 0xef at line 2, byte offset 8"),
}


@pytest.mark.parametrize("kind", sorted(BAD_TEXTS))
def test_text_file_names_the_file_and_the_place(tmp_path, kind):
    data, message = BAD_TEXTS[kind]
    path = tmp_path / f"{kind}.txt"
    path.write_bytes(data)
    with pytest.raises(TextFileError, match=f"{path}: {message}"):
        datasets.text_file(path)


@pytest.mark.parametrize("kind", sorted(BAD_TEXTS))
def test_train_charlm_exits_2_with_one_line_for_a_bad_corpus(tmp_path, capsys, kind):
    data, message = BAD_TEXTS[kind]
    path = tmp_path / f"{kind}.txt"
    path.write_bytes(data)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train-charlm", "--text", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"tinygrad-rnn train-charlm: error: {path}: ")


def test_cli_user_errors_are_one_line_for_every_command(tmp_path, capsys):
    missing = tmp_path / "missing.txt"
    not_a_checkpoint = tmp_path / "notes.npz"
    not_a_checkpoint.write_text("hello", encoding="utf-8")
    cases = [(["train-charlm", "--text", str(missing)], f"{missing}: no such file"),
             (["train-charlm", "--text", str(tmp_path)], f"{tmp_path}: no such file"),
             (["sample", str(missing)], f"{missing}: No such file or directory"),
             (["sample", str(not_a_checkpoint)], "truncated or corrupt"),
             (["gradflow", "--seq-len", "3", "--hidden", "2", "--train-steps", "0", "--batch-size", "1",
               "--cell", "rnn", "--out", str(not_a_checkpoint / "flow.png")], f"{not_a_checkpoint} is not a folder"),
             (["graph", "--out", str(not_a_checkpoint / "g.dot")], "g.dot")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        command = argv[0]
        out, err = capsys.readouterr()
        assert exit_info.value.code == 2 and out == "", argv  # refused before any work
        assert err.startswith(f"tinygrad-rnn {command}: error: ") and err.count("\n") == 1, err
        assert message in err, err


@pytest.mark.skipif(is_available("cuda"), reason="this machine has a usable GPU")
def test_train_charlm_on_a_missing_gpu_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train-charlm", "--text", str(corpus), "--device", "cuda", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("tinygrad-rnn train-charlm: error: --device cuda: device 'cuda' needs CuPy")


def test_sample_refuses_an_empty_prime_in_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path / "run"), "--hidden", "8", "--layers",
              "1", "--embedding", "4", "--seq-len", "5", "--batch-size", "2", "--steps", "1", "--valid-chars", "20"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sample", str(tmp_path / "run" / "charlm.npz"), "--prime", ""])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "tinygrad-rnn sample: error: prime must contain at least one character\n"


@pytest.mark.parametrize("suffix", [".txt", ".txt.gz"])
def test_word2vec_corpus_file_errors_name_the_path_line_and_offset(tmp_path, suffix):
    opener = gzip.open if suffix.endswith(".gz") else open
    path = tmp_path / f"bad{suffix}"
    with opener(path, "wb") as file:
        file.write(b"a b c\nd \xff e\n")
    with pytest.raises(TextFileError, match=f"{path}: not utf-8 text: byte 0xff at line 2, byte offset 8"):
        Word2Vec(corpus_file=path, min_count=1, progress=False)
    blank = tmp_path / f"blank{suffix}"
    with opener(blank, "wb") as file:
        file.write(b"\n  \n")
    with pytest.raises(TextFileError, match=f"{blank}: no words in the corpus"):
        Word2Vec(corpus_file=blank, min_count=1, progress=False)
    binary = tmp_path / f"binary{suffix}"
    with opener(binary, "wb") as file:
        file.write(b"\x00\x01\x02")
    with pytest.raises(TextFileError, match=f"{binary}: binary data"):
        list(LineCorpus(binary))


def test_line_corpus_still_reads_good_text(tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("héllo world\n\nzwei  wörter\n", encoding="utf-8")
    assert list(LineCorpus(path)) == [["héllo", "world"], [], ["zwei", "wörter"]]


def test_word2vec_vector_file_errors_name_the_path_and_the_place(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=f"load_word2vec_format: {path}: the file is empty"):
        load_word2vec_format(path)
    path.write_bytes(b"2 2\nok 1.0 2.0\nnon\xe9 3.0 4.0\n")
    with pytest.raises(TextFileError, match=f"{path}: not utf-8 text: byte 0xe9 at line 3, byte offset 18"):
        load_word2vec_format(path)
    path.write_bytes(b"2 2\nok 1.0 2.0\n\nbad 3.0\n")
    with pytest.raises(ValueError, match=r"entry 1 \('bad'\) has 1 values, expected 2 \(line 4\)"):
        load_word2vec_format(path)
    save_word2vec_format(path, ["one", "two"], np.ones((2, 2), np.float32), binary=True)
    data = bytearray(path.read_bytes())
    second_entry = data.index(b"two")
    data[second_entry] = 0xff
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"entry 1 \\(byte offset {second_entry}\\) is not UTF-8"):
        load_word2vec_format(path, binary=True)
