# make bench: p99 end-to-end latency against offered message load, one
# curve per server, so that the knee of each shows. Called by
# bench/report.sh with out (the PNG), files and titles (word lists).
set terminal pngcairo size 960,600 font "sans,11"
set output out
set title "XMPP chat, 1,000 TLS sessions: p99 latency against offered load"
set xlabel "offered load (messages per second)"
set ylabel "p99 end-to-end latency (ms)"
set logscale xy
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top left
set format x "%.0s%c"
set arrow 1 from graph 0, first 50 to graph 1, first 50 nohead dt 2 \
    lc rgb "#999999"
set label 1 "p99 limit 50 ms" at graph 0.02, first 60 tc rgb "#777777"
plot for [i=1:words(files)] word(files, i) using 1:2 with linespoints \
    lw 2 pt 7 title word(titles, i)
