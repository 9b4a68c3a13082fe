// Package data loads, generates and prepares the data sets that fastnn
// trains on.
//
// Every data set is a [Dataset]: a dense, row-major float32 design matrix X
// (N rows of Features values) and a target matrix Y (N rows of Targets
// values). For classification Y holds one class index per row, stored as a
// float32 in [0, Classes); for regression Y holds the target values.
// float32 is used throughout because it is what the training backends
// consume, so batches can be copied straight into device buffers.
//
// # Sources
//
//   - [Builtin] returns small real tables embedded in the binary (iris,
//     digits, breast-cancer, wine, diabetes, boston), so examples and tests
//     work offline. See builtin/README.md for their sources and licences.
//     The Boston housing table is returned without its B column, which
//     encodes the proportion of Black residents by town, so that no model
//     is fed it by default.
//   - [ReadCSV] and [ReadCSVFile] read user tables with a header row: text
//     labels become classes, text columns of at most [MaxCategories] values
//     are one-hot encoded (the Dataset's [Encoding]), missing cells are an
//     error, NaN for [FitImputer], or a dropped row; [ReadFeatures] encodes
//     new rows as a model's training table was.
//   - [ReadIDX], [LoadIDXPair] and [LoadMNIST] read the IDX format of MNIST
//     and Fashion-MNIST, from local files (raw or gzip-compressed) or, when
//     asked, from the sets' public mirrors with SHA-256 verification.
//   - [XOR], [Circles], [Moons], [Spiral] and [Blobs] generate the 2-D toy
//     problems of the TensorFlow playground and scikit-learn, seeded by a
//     caller-supplied *rand.Rand so runs are reproducible.
//
// # Synthetic sets
//
// [XOR], [Circles], [Moons], [Spiral] and [Blobs] make the 2-D toy
// problems of the TensorFlow playground and scikit-learn's make_*
// functions. All of them
//
//   - draw every random number from the rng argument, so a seed fixes the
//     data;
//   - cycle the rows through the classes (row i has class i % K; XOR
//     cycles through its four quadrants), so the classes are balanced to
//     within a row or two, and so is every prefix of the rows;
//   - add independent Gaussian noise of standard deviation noise to both
//     coordinates of each clean point after its label is fixed, so a
//     larger noise makes the classes overlap;
//   - return a Classification data set with Features 2 (named "x" and
//     "y"), Targets 1 and Classes K.
//
// They panic if n < 0, if noise is negative or not finite, if a class or
// centre count is below 1, or if rng is nil: these are programming
// errors, not bad data. n == 0 gives an empty data set.
//
// # Preparing data for training
//
// [Split] shuffles a data set into train, validation and test parts,
// stratified by class for classification so that small sets keep their
// class balance. [FitStandardizer] learns per-column means and standard
// deviations; fit it on the training split only, then Apply it to every
// split, so that no statistic of the validation or test rows leaks into
// training. [Dataset.Gather] copies a mini-batch into caller-owned buffers
// without allocating, for use inside the training loop.
//
// # Errors
//
// Functions that read files or parse user data never panic on bad input:
// they return an error that names the file (or the name given to the
// reader) and, where there is one, the line and column of the problem.
// A size that the input claims is checked, never trusted. Functions
// whose arguments are chosen by the programmer (row indices, generator
// sizes) panic on arguments that are out of range, as slice indexing does.
//
// # Memory
//
// What reading costs is bounded by the input's size, as follows.
//
//   - CSV is parsed as it streams in. Its numbers are kept in chunks that
//     grow without copying and are copied once into X and Y at the end,
//     so a valid table peaks at twice its parsed data, 8 bytes per cell
//     (2 x 4 x N x (Features+1)), plus the record being parsed. A cell
//     takes at least 2 bytes of text, so that is at most 4 times the
//     text's size. A table with text columns is one-hot encoded: its
//     chunks hold one value per cell (at most 2 times the text's size)
//     and its X one per category, which a 2-byte cell may multiply by
//     MaxCategories; so X is refused before it is allocated when it
//     would be wider than MaxFeatures or hold more than OneHotFactor
//     values a byte of text, and such a table peaks at
//     4 x OneHotFactor + 2 = 34 times the text's size. The first 64 KiB are checked to be text before
//     anything is parsed (a NUL byte, or control bytes in what is not
//     UTF-8, is refused), and a record longer than MaxCSVLine bytes is
//     refused, so a binary file, or a large file without line breaks,
//     costs a few megabytes to refuse, whatever its size.
//   - IDX: the dimensions in the header are checked before any data is
//     read, against the file's size for a raw file and against what it
//     may expand to for a gzip file; the data buffer then grows with the
//     bytes actually read, to at most 2^30.
//   - gzip input may expand to at most MaxGzipRatio times its compressed
//     size plus GzipAllowance; beyond that reading stops with an error
//     wrapping ErrGzipExpansion. A file whose gzip trailer states a larger
//     size is refused before anything is decompressed.
package data
