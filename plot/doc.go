// Package plot draws the pictures of a training run and writes its history
// to files.
//
// LossCurves and AccuracyCurves draw an nn.History's per-epoch training and
// validation figures; DecisionBoundary shades the plane of a 2-feature
// classification data set by a model's prediction and puts the points on
// top, as the TensorFlow playground does; GradFlow draws the per-layer
// gradient norms recorded with nn.TrainConfig.GradFlow on a log scale, with
// the vanishing and exploding zones marked at nn.VanishingBelow and
// nn.ExplodingAbove. WriteHistoryCSV and WriteHistoryJSON save the history
// itself.
//
// Pictures are PNG (96 dots per inch) when the file name ends in .png and SVG
// when it ends in .svg; any other extension is an error. Every file is
// written to a temporary file in the same folder and renamed into place, so
// an interrupted run never leaves a half-written file behind.
package plot
