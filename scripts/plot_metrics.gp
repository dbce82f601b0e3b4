# Turns an mnist_train metrics CSV into loss and accuracy curves (PNG).
#
#   gnuplot -e "metrics='metrics.csv'; output='curves.png'" scripts/plot_metrics.gp
#
# gnuplot is Debian's `gnuplot-nox` package. Columns: epoch, train_loss, train_accuracy, test_loss,
# test_accuracy, train_seconds, test_seconds, active_fraction, units_used, rigl_moved.
if (!exists("metrics")) metrics = 'metrics.csv'
if (!exists("output")) output = 'curves.png'
set datafile separator ','
set key autotitle columnhead
set terminal pngcairo size 1200,450
set output output
set multiplot layout 1,2
set xlabel 'epoch'
set ylabel 'cross-entropy'
set title 'loss'
plot metrics using 1:2 with linespoints title 'train', '' using 1:4 with linespoints title 'test'
set ylabel 'accuracy (%)'
set title 'accuracy'
plot metrics using 1:3 with linespoints title 'train', '' using 1:5 with linespoints title 'test'
unset multiplot
