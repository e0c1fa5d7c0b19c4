/* The hello of the benchmarks in C on libfcgi (Debian libfcgi-dev), the
 * responder FastCGI applications were written with before: THREADS threads
 * accept on the socket given as argv[1] (":path" or a unix path), or on fd 0
 * when spawned. */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdlib.h>

static int sock;

static void *serve(void *unused) {
	FCGX_Request req;
	(void)unused;
	FCGX_InitRequest(&req, sock, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Content-Type: text/plain; charset=utf-8\r\n\r\nHello, world\n", req.out);
		FCGX_Finish_r(&req);
	}
	return NULL;
}

int main(int argc, char **argv) {
	int n = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t t[64];
	FCGX_Init();
	sock = argc > 1 && argv[1][0] ? FCGX_OpenSocket(argv[1], 128) : 0;
	if (sock < 0)
		return 1;
	if (n < 1 || n > 64)
		n = 1;
	for (int i = 1; i < n; i++)
		pthread_create(&t[i], NULL, serve, NULL);
	serve(NULL);
	return 0;
}
