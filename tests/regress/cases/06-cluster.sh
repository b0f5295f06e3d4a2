# Clustering is not built yet: the status says so.
start_daemon
mmp xmpp cluster status
mmp xm cl st
