// Load generator for the fan-out bench: N RFC 6455 clients on epoll, the first P of which publish
// sequence-numbered, timestamped messages; every client checks what it receives. One JSON line out.
//
// Protocol with bench/loadgen/client.ts: after every connection is open it prints
// {"event":"connected",...} and waits for "go" on stdin (so the orchestrator can read the server's
// idle RSS), then runs the traffic phase and prints the result line. --no-wait skips the pause.
//
// --rooms R puts connection g (counted over all threads) in room g % R, on path <url path>room-<r>; publisher p is
// connection p, so it speaks in room p % R and every connection expects only its room's publishers. --sources N
// binds connection g to 127.0.0.(2 + g % N) before connecting, so one machine is not limited by the ephemeral
// ports of a single source address. A wss:// URL speaks TLS (OpenSSL) on its connections, without verifying
// the certificate: the bench measures servers with throwaway self-signed certificates.
//
// Why C: a Node client saturates long before a uWS server does, and a saturated generator measures
// itself. Frames are parsed as a byte stream per connection; only the first PREFIX payload bytes of
// a message are copied, so 5,000 connections cost a few hundred bytes each.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "histogram.h"
#include "sequence.h"

#define MAX_URLS 16
#define MAX_THREADS 64
#define PREFIX 40             /* text header is 40 hex chars; binary uses the first 20 bytes */
#define BIN_HEADER 20
#define PROBE_PUB 0xFFFFFFFFu /* readiness probe: not a measured message */
#define CONNECT_PARALLEL 64   /* per thread; more overflows the server's SYN backlog on loopback */
#define READ_BUF (256 * 1024)

enum { MODE_FIXED, MODE_MAX };
enum { C_CONNECTING, C_TLS, C_HANDSHAKE, C_OPEN, C_DEAD };

typedef struct conn {
  int fd;
  uint8_t state, hdr_len, hdr_need, in_payload, f_opcode, f_fin, m_opcode, pre_len, ctl_len;
  uint8_t mask[4];
  uint32_t local;
  uint32_t global; /* index over every thread: picks the room and the source address */
  uint32_t url;
  uint8_t probe_seen;
  uint64_t f_left, m_len;
  uint8_t hdr[14];
  uint8_t pre[PREFIX];
  uint8_t ctl[125];
  char *hs;
  uint16_t hs_len;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  uint8_t corked;
  SSL *ssl; /* wss:// connections only */
} conn_t;

typedef struct {
  conn_t *c;
  uint32_t id;
  uint8_t *frame;
  size_t frame_len, hdr_len;
  uint64_t next_seq, total, base;
  uint64_t offset_ns;
  _Atomic int32_t *remaining; /* max mode: deliveries still due per in-flight slot */
} pub_t;

typedef struct {
  int id, epfd, timerfd, wakefd;
  conn_t *conns;
  uint32_t nconns;
  track_t *track;
  hist_t hist;
  hist_t remote; /* deliveries whose receiver connected to another URL than the publisher (several --url) */
  uint64_t deliveries, in_window, dups, ooo, bad, disconnects;
  uint8_t *buf;
  pthread_t thread;
} worker_t;

static struct {
  struct sockaddr_in addr[MAX_URLS];
  char path[MAX_URLS][256];
  char hostport[MAX_URLS][64];
  uint8_t tls[MAX_URLS];
  int nurls;
  uint32_t subs, pubs, payload, inflight, threads, rooms, sources;
  int mode, text, no_wait;
  double rate, warmup_s, measure_s, drain_s, timeout_s;
} opt = {.subs = 100, .pubs = 1, .payload = 64, .inflight = 32, .threads = 1, .mode = MODE_MAX,
         .rate = 100, .warmup_s = 0.5, .measure_s = 2, .drain_s = 3, .timeout_s = 60};

static worker_t workers[MAX_THREADS];
static SSL_CTX *tls_ctx;
static pub_t *pubs;
static uint32_t window; /* in-flight slots per publisher (max mode) */
/*
 * Max mode sends each publisher's window as `batches` bursts. Refilling one message per completion
 * lets the window fragment into a path-dependent mix of burst sizes, and throughput swings with it
 * from run to run; fixed bursts give every peer and every run the same pipeline shape.
 */
static uint32_t batches = 2, batch;
/* sequence trackers per connection: every publisher, or with rooms only those of its own room */
static uint32_t tracked;
static pthread_barrier_t barrier;
static _Atomic int g_stop, g_failed;
static _Atomic uint64_t g_unique, g_ready, g_w0, g_w1;
static char g_error[256];
static uint64_t interval_ns, deadline_ns;
static int sentinel_timer, sentinel_wake;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Room of connection (or publisher) g; 0 without rooms. */
static uint32_t room_of(uint32_t g) { return opt.rooms ? g % opt.rooms : 0; }

/* Connections in room r: everyone without rooms. */
static uint32_t room_members(uint32_t r) {
  if (!opt.rooms) return opt.subs;
  return opt.subs / opt.rooms + (r < opt.subs % opt.rooms);
}

static void fail(const char *msg) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&g_failed, &expected, 1)) snprintf(g_error, sizeof g_error, "%s", msg);
  atomic_store(&g_stop, 1);
}

static void ep_mod(worker_t *w, conn_t *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(w->epfd, op, c->fd, &ev) != 0 && op != EPOLL_CTL_DEL) fail("epoll_ctl failed");
}

/* TLS results as read(2)/write(2) would give them: -1 with EAGAIN when the record layer wants more I/O. */
static ssize_t tls_result(conn_t *c, int r) {
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) errno = EAGAIN;
  else if (e == SSL_ERROR_ZERO_RETURN) return 0;
  else errno = EIO;
  ERR_clear_error();
  return -1;
}

static ssize_t conn_read(conn_t *c, void *buf, size_t n) {
  if (c->ssl) return tls_result(c, SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n));
  return read(c->fd, buf, n);
}

static ssize_t conn_write(conn_t *c, const void *buf, size_t n) {
  if (c->ssl) return tls_result(c, SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n));
  return write(c->fd, buf, n);
}

static void conn_dead(worker_t *w, conn_t *c) {
  if (c->state == C_DEAD) return;
  epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  if (c->ssl) {
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  close(c->fd);
  c->state = C_DEAD;
  w->disconnects++;
}

static void conn_flush(worker_t *w, conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = conn_write(c, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) {
      if (errno == EAGAIN) return;
      conn_dead(w, c);
      return;
    }
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
  ep_mod(w, c, EPOLLIN, EPOLL_CTL_MOD);
}

/* Writes now when the socket takes it; otherwise queues, so a slow server shows up as latency. */
static void conn_send(worker_t *w, conn_t *c, const uint8_t *data, size_t len) {
  if (c->state != C_OPEN) return;
  size_t done = 0;
  if (c->out_len == 0 && !c->corked) {
    ssize_t n = conn_write(c, data, len);
    if (n < 0 && errno != EAGAIN) {
      conn_dead(w, c);
      return;
    }
    done = n > 0 ? (size_t)n : 0;
    if (done == len) return;
    ep_mod(w, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
  }
  size_t rest = len - done;
  if (c->out_len + rest > c->out_cap) {
    c->out_cap = (c->out_len + rest) * 2;
    c->out = realloc(c->out, c->out_cap);
    if (!c->out) fail("out of memory");
  }
  memcpy(c->out + c->out_len, data + done, rest);
  c->out_len += rest;
}

/* A corked connection collects frames; uncorking writes them together, as one burst the server reads at once. */
static void conn_uncork(worker_t *w, conn_t *c) {
  c->corked = 0;
  if (c->state != C_OPEN || c->out_len == 0) return;
  ep_mod(w, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
  conn_flush(w, c);
}

/* Client frames must be masked (RFC 6455 5.3); the payload after the prefix is masked once. */
static size_t frame_header(uint8_t *out, uint8_t opcode, uint64_t len, const uint8_t mask[4]) {
  size_t h = 0;
  out[h++] = 0x80 | opcode;
  if (len < 126) {
    out[h++] = 0x80 | (uint8_t)len;
  } else if (len < 65536) {
    out[h++] = 0x80 | 126;
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)(len >> (8 * i));
  }
  memcpy(out + h, mask, 4);
  return h + 4;
}

static void write_prefix(uint8_t *dst, const uint8_t mask[4], uint32_t pub, uint64_t seq, uint64_t ts) {
  uint8_t plain[PREFIX];
  size_t n;
  if (opt.text) {
    char tmp[PREFIX + 1];
    snprintf(tmp, sizeof tmp, "%08x%016llx%016llx", pub, (unsigned long long)seq, (unsigned long long)ts);
    memcpy(plain, tmp, PREFIX);
    n = PREFIX;
  } else {
    memcpy(plain, &pub, 4);
    memcpy(plain + 4, &seq, 8);
    memcpy(plain + 12, &ts, 8);
    n = BIN_HEADER;
  }
  for (size_t i = 0; i < n; i++) dst[i] = plain[i] ^ mask[i & 3];
}

static void pub_send(pub_t *p, uint32_t id, uint64_t seq, uint64_t ts) {
  write_prefix(p->frame + p->hdr_len, p->c->mask, id, seq, ts);
  conn_send(&workers[0], p->c, p->frame, p->frame_len);
}

static int hexval(uint8_t ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

static int parse_hex(const uint8_t *s, int n, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) {
    int d = hexval(s[i]);
    if (d < 0) return -1;
    v = (v << 4) | (uint64_t)d;
  }
  *out = v;
  return 0;
}

static void on_message(worker_t *w, conn_t *c, uint64_t now, uint64_t *unique) {
  uint8_t want = opt.text ? 1 : 2;
  uint32_t need = opt.text ? PREFIX : BIN_HEADER;
  if (c->m_opcode != want || c->pre_len < need) {
    w->bad++;
    return;
  }
  uint64_t pub64, seq, ts;
  if (opt.text) {
    if (parse_hex(c->pre, 8, &pub64) || parse_hex(c->pre + 8, 16, &seq) || parse_hex(c->pre + 24, 16, &ts)) {
      w->bad++;
      return;
    }
  } else {
    uint32_t p32;
    memcpy(&p32, c->pre, 4);
    memcpy(&seq, c->pre + 4, 8);
    memcpy(&ts, c->pre + 12, 8);
    pub64 = p32;
  }
  if (pub64 == PROBE_PUB) {
    if (!c->probe_seen) {
      c->probe_seen = 1;
      atomic_fetch_add(&g_ready, 1);
    }
    return;
  }
  /* with rooms, a message from another room is a leak: counted as malformed */
  if (pub64 >= opt.pubs || c->m_len != opt.payload || room_of((uint32_t)pub64) != room_of(c->global)) {
    w->bad++;
    return;
  }
  w->deliveries++;
  uint64_t slot = opt.rooms ? pub64 / opt.rooms : pub64;
  int kind = track(&w->track[(size_t)c->local * tracked + slot], seq);
  if (kind == 2) {
    w->dups++;
    return;
  }
  if (kind == 1) w->ooo++;
  (*unique)++;
  uint64_t w0 = atomic_load_explicit(&g_w0, memory_order_relaxed);
  if (w0 && now >= w0 && now <= atomic_load_explicit(&g_w1, memory_order_relaxed)) w->in_window++;
  if (w0 && ts >= w0) {
    uint64_t latency = now > ts ? now - ts : 0;
    hist_record(&w->hist, latency);
    /* a cluster: the message crossed from the publisher's instance to another one */
    if (c->url != pubs[pub64].c->url) hist_record(&w->remote, latency);
  }
  if (opt.mode == MODE_MAX) {
    pub_t *p = &pubs[pub64];
    if (atomic_fetch_sub_explicit(&p->remaining[seq % window], 1, memory_order_acq_rel) == 1 && w->id != 0) {
      uint64_t one = 1;
      if (write(workers[0].wakefd, &one, 8) < 0) { /* a wake already pending is enough */ }
    }
  }
}

static void on_control(worker_t *w, conn_t *c) {
  uint8_t op = c->f_opcode;
  if (op == 8) {
    conn_dead(w, c);
  } else if (op == 9) {
    uint8_t pong[14 + 125];
    size_t h = frame_header(pong, 0xA, c->ctl_len, c->mask);
    for (uint8_t i = 0; i < c->ctl_len; i++) pong[h + i] = c->ctl[i] ^ c->mask[i & 3];
    conn_send(w, c, pong, h + c->ctl_len);
  }
}

static void end_frame(worker_t *w, conn_t *c, uint64_t now, uint64_t *unique) {
  c->in_payload = 0;
  c->hdr_len = 0;
  if (c->f_opcode & 8) on_control(w, c);
  else if (c->f_fin) on_message(w, c, now, unique);
}

/* Feeds received bytes through the frame state machine; returns -1 on a protocol error. */
static int parse(worker_t *w, conn_t *c, const uint8_t *p, size_t n, uint64_t now, uint64_t *unique) {
  const uint8_t *end = p + n;
  while (p < end && c->state == C_OPEN) {
    if (!c->in_payload) {
      if (c->hdr_len == 0) c->hdr_need = 2;
      while (c->hdr_len < c->hdr_need && p < end) {
        c->hdr[c->hdr_len++] = *p++;
        if (c->hdr_len == 2) {
          uint8_t l7 = c->hdr[1] & 0x7f;
          if (c->hdr[1] & 0x80) return -1; /* servers never mask */
          c->hdr_need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
        }
      }
      if (c->hdr_len < c->hdr_need) return 0;
      uint64_t len = c->hdr[1] & 0x7f;
      if (len == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
      else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = len << 8 | c->hdr[i];
      }
      c->f_fin = c->hdr[0] >> 7;
      c->f_opcode = c->hdr[0] & 0x0f;
      c->f_left = len;
      c->in_payload = 1;
      if (c->f_opcode & 8) {
        if (len > 125) return -1;
        c->ctl_len = 0;
      } else if (c->f_opcode != 0) {
        c->m_opcode = c->f_opcode;
        c->m_len = 0;
        c->pre_len = 0;
      }
      if (len == 0) end_frame(w, c, now, unique);
      continue;
    }
    size_t take = (size_t)(end - p) < c->f_left ? (size_t)(end - p) : (size_t)c->f_left;
    if (c->f_opcode & 8) {
      memcpy(c->ctl + c->ctl_len, p, take);
      c->ctl_len += (uint8_t)take;
    } else {
      if (c->pre_len < PREFIX) {
        size_t k = take < (size_t)(PREFIX - c->pre_len) ? take : (size_t)(PREFIX - c->pre_len);
        memcpy(c->pre + c->pre_len, p, k);
        c->pre_len += (uint8_t)k;
      }
      c->m_len += take;
    }
    p += take;
    c->f_left -= take;
    if (c->f_left == 0) end_frame(w, c, now, unique);
  }
  return 0;
}

/* One read for plain TCP (epoll is level-triggered); TLS reads until the record layer is empty, because
   decrypted bytes it holds would never wake epoll. */
static void on_readable(worker_t *w, conn_t *c) {
  uint64_t unique = 0;
  do {
    ssize_t n = conn_read(c, w->buf, READ_BUF);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      conn_dead(w, c);
      break;
    }
    if (n < 0) break;
    if (parse(w, c, w->buf, (size_t)n, now_ns(), &unique) != 0) {
      w->bad++;
      conn_dead(w, c);
      break;
    }
  } while (c->ssl && c->state == C_OPEN);
  if (unique) atomic_fetch_add_explicit(&g_unique, unique, memory_order_relaxed);
}

static int open_socket(worker_t *w, conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.sources) {
    /* the kernel picks the port at connect(), per destination, instead of reserving one at bind() */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
    src.sin_addr.s_addr = htonl(0x7f000002u + c->global % opt.sources);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) return -1;
  }
  if (connect(c->fd, (struct sockaddr *)&opt.addr[c->url], sizeof opt.addr[c->url]) != 0 && errno != EINPROGRESS) return -1;
  c->state = C_CONNECTING;
  ep_mod(w, c, EPOLLOUT, EPOLL_CTL_ADD);
  return 0;
}

/* Drives the TLS handshake; returns 1 when done, 0 while it waits for the socket, -1 on failure. */
static int tls_step(worker_t *w, conn_t *c) {
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) return 1;
  int e = SSL_get_error(c->ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ) ep_mod(w, c, EPOLLIN, EPOLL_CTL_MOD);
  else if (e == SSL_ERROR_WANT_WRITE) ep_mod(w, c, EPOLLOUT, EPOLL_CTL_MOD);
  else return -1;
  return 0;
}

static int on_connect_event(worker_t *w, conn_t *c) {
  if (c->state == C_CONNECTING && !c->ssl) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return -1;
    if (opt.tls[c->url]) {
      c->ssl = SSL_new(tls_ctx);
      if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) return -1;
      SSL_set_connect_state(c->ssl);
      c->state = C_TLS;
    }
  }
  if (c->state == C_TLS) {
    int rc = tls_step(w, c);
    if (rc <= 0) return rc;
    c->state = C_CONNECTING; /* handshake done: send the upgrade request below */
  }
  if (c->state == C_CONNECTING) {
    char req[512];
    char room[32] = "";
    if (opt.rooms) snprintf(room, sizeof room, "%sroom-%u", opt.path[c->url][strlen(opt.path[c->url]) - 1] == '/' ? "" : "/", room_of(c->global));
    int n = snprintf(req, sizeof req,
                     "GET %s%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt.path[c->url], room, opt.hostport[c->url]);
    if (conn_write(c, req, (size_t)n) != n) return -1;
    c->state = C_HANDSHAKE;
    c->hs = malloc(2048);
    c->hs_len = 0;
    ep_mod(w, c, EPOLLIN, EPOLL_CTL_MOD);
    return 0;
  }
  ssize_t n = conn_read(c, c->hs + c->hs_len, 2047 - c->hs_len);
  if (n <= 0) return n < 0 && errno == EAGAIN ? 0 : -1;
  c->hs_len += (uint16_t)n;
  c->hs[c->hs_len] = 0;
  char *eoh = strstr(c->hs, "\r\n\r\n");
  if (!eoh) return c->hs_len >= 2047 ? -1 : 0;
  if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) return -1;
  c->state = C_OPEN;
  uint64_t unique = 0;
  size_t used = (size_t)(eoh + 4 - c->hs);
  int rc = parse(w, c, (uint8_t *)c->hs + used, c->hs_len - used, now_ns(), &unique);
  free(c->hs);
  c->hs = NULL;
  return rc == 0 ? 1 : -1;
}

static int connect_all(worker_t *w) {
  uint32_t next = 0, open = 0, pending = 0;
  struct epoll_event evs[256];
  while (open < w->nconns) {
    while (pending < CONNECT_PARALLEL && next < w->nconns) {
      if (open_socket(w, &w->conns[next++]) != 0) return -1;
      pending++;
    }
    int n = epoll_wait(w->epfd, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int rc = on_connect_event(w, evs[i].data.ptr);
      if (rc < 0) return -1;
      if (rc > 0) {
        open++;
        pending--;
      }
    }
    if (now_ns() > deadline_ns || atomic_load(&g_stop)) return -1;
  }
  return 0;
}

static uint64_t due_ns(const pub_t *p, uint64_t t0) { return t0 + p->offset_ns + p->next_seq * interval_ns; }

static void arm_timer(uint64_t at) {
  struct itimerspec its = {.it_value = {.tv_sec = (time_t)(at / 1000000000ull), .tv_nsec = (long)(at % 1000000000ull)}};
  timerfd_settime(workers[0].timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Worker 0 drives the run: readiness probe, sending, and deciding when it is over. */
typedef struct {
  int phase; /* 0 probing, 1 sending, 2 draining */
  uint64_t t0, send_end, probe_at, last_unique, last_progress, expected;
  uint32_t probes;
  int stalled, drain_timed_out;
} control_t;

static control_t ctl;

/* The probe reuses the first publisher's frame, so it has the scenario's size and type; with rooms, every room's first publisher sends one. */
static void send_probe(uint64_t now) {
  uint32_t speakers = opt.rooms ? opt.rooms : 1;
  for (uint32_t r = 0; r < speakers; r++) pub_send(&pubs[r], PROBE_PUB, ctl.probes, now);
  ctl.probes++;
  ctl.probe_at = now;
}

static void start_sending(uint64_t now) {
  ctl.t0 = now + 1000000; /* 1 ms ahead, so the first intended send time is not already late */
  uint64_t w0 = ctl.t0 + (uint64_t)(opt.warmup_s * 1e9);
  ctl.send_end = w0 + (uint64_t)(opt.measure_s * 1e9);
  atomic_store(&g_w1, ctl.send_end);
  atomic_store(&g_w0, w0);
  ctl.phase = 1;
  ctl.last_progress = now;
  if (opt.mode == MODE_FIXED) {
    double per_pub = opt.rate / opt.pubs;
    interval_ns = (uint64_t)(1e9 / per_pub);
    for (uint32_t i = 0; i < opt.pubs; i++) {
      pubs[i].offset_ns = interval_ns * i / opt.pubs;
      pubs[i].total = (uint64_t)(per_pub * (opt.warmup_s + opt.measure_s) + 0.5);
      if (pubs[i].total == 0) pubs[i].total = 1;
    }
    arm_timer(ctl.t0);
  }
}

static void pump(uint64_t now) {
  if (opt.mode == MODE_FIXED) {
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < opt.pubs; i++) {
      pub_t *p = &pubs[i];
      while (p->next_seq < p->total && due_ns(p, ctl.t0) <= now) {
        pub_send(p, p->id, p->next_seq, due_ns(p, ctl.t0));
        p->next_seq++;
      }
      if (p->next_seq < p->total && due_ns(p, ctl.t0) < next) next = due_ns(p, ctl.t0);
    }
    if (next != UINT64_MAX) arm_timer(next);
    else ctl.phase = 2;
    return;
  }
  int sending = now < ctl.send_end;
  if (!sending) ctl.phase = 2;
  for (uint32_t i = 0; i < opt.pubs; i++) {
    pub_t *p = &pubs[i];
    while (p->base < p->next_seq && atomic_load_explicit(&p->remaining[p->base % window], memory_order_acquire) == 0) p->base++;
    while (sending && p->next_seq + batch <= p->base + window) {
      p->c->corked = 1;
      uint64_t ts = now_ns();
      for (uint32_t k = 0; k < batch; k++) {
        atomic_store_explicit(&p->remaining[p->next_seq % window], (int32_t)room_members(room_of(p->id)), memory_order_release);
        pub_send(p, p->id, p->next_seq, ts);
        p->next_seq++;
      }
      conn_uncork(&workers[0], p->c);
    }
  }
}

/* Every message sent so far times the connections of its publisher's room. */
static uint64_t expected_deliveries(void) {
  uint64_t expected = 0;
  for (uint32_t i = 0; i < opt.pubs; i++) expected += pubs[i].next_seq * room_members(room_of(i));
  return expected;
}

static void control(uint64_t now) {
  if (now > deadline_ns) {
    fail("timed out");
    return;
  }
  if (ctl.phase == 0) {
    if (atomic_load(&g_ready) >= opt.subs) start_sending(now);
    else if (now - ctl.probe_at > 1000000000ull) {
      if (ctl.probes >= 5) fail("not every subscriber received the readiness probe");
      else send_probe(now);
    }
    return;
  }
  if (ctl.phase == 1 && now < ctl.t0) return;
  pump(now);
  uint64_t unique = atomic_load(&g_unique);
  if (unique != ctl.last_unique) {
    ctl.last_unique = unique;
    ctl.last_progress = now;
  }
  if (ctl.phase != 2) return;
  ctl.expected = expected_deliveries();
  if (unique >= ctl.expected) atomic_store(&g_stop, 1);
  else if (now - ctl.last_progress > (uint64_t)(opt.drain_s * 1e9)) {
    ctl.drain_timed_out = 1;
    if (opt.mode == MODE_MAX) ctl.stalled = 1;
    atomic_store(&g_stop, 1);
  }
}

static void run_loop(worker_t *w) {
  struct epoll_event evs[1024];
  if (w->id == 0) send_probe(now_ns());
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    int n = epoll_wait(w->epfd, evs, 1024, 10);
    for (int i = 0; i < n; i++) {
      void *ptr = evs[i].data.ptr;
      uint64_t junk;
      if (ptr == &sentinel_timer) {
        if (read(w->timerfd, &junk, 8) < 0) { /* spurious wake */ }
        continue;
      }
      if (ptr == &sentinel_wake) {
        if (read(w->wakefd, &junk, 8) < 0) { /* spurious wake */ }
        continue;
      }
      conn_t *c = ptr;
      if (c->state != C_OPEN) continue;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(w, c);
      if ((evs[i].events & EPOLLOUT) && c->state == C_OPEN) conn_flush(w, c);
    }
    if (w->id == 0) control(now_ns());
  }
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  if (connect_all(w) != 0) fail("could not open every connection");
  pthread_barrier_wait(&barrier); /* all connected (or failed) */
  pthread_barrier_wait(&barrier); /* orchestrator said go */
  if (!atomic_load(&g_stop)) run_loop(w);
  return NULL;
}

static int parse_url(const char *url, int i) {
  const char *p = url;
  if (strncmp(p, "wss://", 6) == 0) {
    opt.tls[i] = 1;
    p += 6;
  } else if (strncmp(p, "ws://", 5) == 0) {
    p += 5;
  } else {
    return -1;
  }
  const char *colon = strchr(p, ':');
  if (!colon) return -1;
  char host[64];
  size_t hl = (size_t)(colon - p);
  if (hl >= sizeof host) return -1;
  memcpy(host, p, hl);
  host[hl] = 0;
  if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
  char *rest;
  long port = strtol(colon + 1, &rest, 10);
  if (port <= 0 || port > 65535) return -1;
  opt.addr[i].sin_family = AF_INET;
  opt.addr[i].sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &opt.addr[i].sin_addr) != 1) return -1;
  snprintf(opt.path[i], sizeof opt.path[i], "%s", *rest ? rest : "/");
  snprintf(opt.hostport[i], sizeof opt.hostport[i], "%s:%ld", host, port);
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --url ws[s]://127.0.0.1:PORT/ [--url ...] --subs N --pubs P --payload BYTES\n"
          "  --mode fixed|max --rate MSGS_PER_S --inflight N --warmup-s S --measure-s S --drain-s S\n"
          "  --batches B --threads T --timeout-s S --rooms R --sources N [--text] [--no-wait]\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--text")) opt.text = 1;
    else if (!strcmp(a, "--no-wait")) opt.no_wait = 1;
    else if (!v) usage();
    else if (!strcmp(a, "--url")) {
      if (opt.nurls >= MAX_URLS || parse_url(v, opt.nurls) != 0) usage();
      opt.nurls++;
      i++;
    } else {
      i++;
      if (!strcmp(a, "--subs")) opt.subs = (uint32_t)atol(v);
      else if (!strcmp(a, "--pubs")) opt.pubs = (uint32_t)atol(v);
      else if (!strcmp(a, "--payload")) opt.payload = (uint32_t)atol(v);
      else if (!strcmp(a, "--inflight")) opt.inflight = (uint32_t)atol(v);
      else if (!strcmp(a, "--threads")) opt.threads = (uint32_t)atol(v);
      else if (!strcmp(a, "--batches")) batches = (uint32_t)atol(v);
      else if (!strcmp(a, "--rooms")) opt.rooms = (uint32_t)atol(v);
      else if (!strcmp(a, "--sources")) opt.sources = (uint32_t)atol(v);
      else if (!strcmp(a, "--mode")) opt.mode = !strcmp(v, "fixed") ? MODE_FIXED : !strcmp(v, "max") ? MODE_MAX : -1;
      else if (!strcmp(a, "--rate")) opt.rate = atof(v);
      else if (!strcmp(a, "--warmup-s")) opt.warmup_s = atof(v);
      else if (!strcmp(a, "--measure-s")) opt.measure_s = atof(v);
      else if (!strcmp(a, "--drain-s")) opt.drain_s = atof(v);
      else if (!strcmp(a, "--timeout-s")) opt.timeout_s = atof(v);
      else usage();
    }
  }
  /* source addresses 127.0.0.2... reach only a server on loopback */
  for (int i = 0; i < opt.nurls && opt.sources; i++)
    if ((ntohl(opt.addr[i].sin_addr.s_addr) >> 24) != 127) usage();
  uint32_t min_payload = opt.text ? PREFIX : BIN_HEADER;
  if (opt.nurls == 0 || opt.mode < 0 || opt.pubs == 0 || opt.subs < opt.pubs || opt.payload < min_payload ||
      opt.threads == 0 || opt.threads > MAX_THREADS || opt.threads > opt.subs || opt.rate <= 0 || opt.inflight == 0 || batches == 0 ||
      (opt.rooms && (opt.pubs < opt.rooms || opt.rooms > opt.subs)) || opt.sources > 250)
    usage();
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void setup(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < opt.subs + 64) {
    fprintf(stderr, "loadgen: RLIMIT_NOFILE %llu is too low for %u connections\n", (unsigned long long)rl.rlim_cur, opt.subs);
    exit(2);
  }
  prctl(PR_SET_TIMERSLACK, 1UL); /* fixed-rate sends are timed to the microsecond, not to 50 us */
  tls_ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_ctx) exit(2);
  SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
  /* a queued frame may be retried from a grown, moved buffer, and may go out in parts */
  SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  window = (opt.inflight + opt.pubs - 1) / opt.pubs;
  if (batches > window) batches = window;
  batch = window / batches;
  window = batch * batches;
  srand((unsigned)now_ns());
  tracked = opt.rooms ? (opt.pubs + opt.rooms - 1) / opt.rooms : opt.pubs;
  uint32_t first = 0;
  for (uint32_t t = 0; t < opt.threads; t++) {
    worker_t *w = &workers[t];
    w->id = (int)t;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->nconns = opt.subs / opt.threads + (t < opt.subs % opt.threads);
    w->conns = calloc(w->nconns, sizeof(conn_t));
    w->track = calloc((size_t)w->nconns * tracked, sizeof(track_t));
    w->buf = malloc(READ_BUF);
    if (!w->conns || !w->track || !w->buf) exit(2);
    for (uint32_t i = 0; i < w->nconns; i++) {
      conn_t *c = &w->conns[i];
      c->local = i;
      c->global = first + i;
      /* round-robin within each thread, so the publishers (thread 0's first connections) alternate too */
      c->url = i % (uint32_t)opt.nurls;
      for (int k = 0; k < 4; k++) c->mask[k] = (uint8_t)rand();
      c->fd = -1;
    }
    first += w->nconns;
  }
  /* publishers all live on worker 0, so sending and pacing need no locks */
  pubs = calloc(opt.pubs, sizeof(pub_t));
  worker_t *w0 = &workers[0];
  if (opt.pubs > w0->nconns) {
    fprintf(stderr, "loadgen: more publishers than connections on thread 0\n");
    exit(2);
  }
  for (uint32_t i = 0; i < opt.pubs; i++) {
    pub_t *p = &pubs[i];
    p->id = i;
    p->c = &w0->conns[i];
    p->frame = malloc(14 + opt.payload);
    p->hdr_len = frame_header(p->frame, opt.text ? 1 : 2, opt.payload, p->c->mask);
    p->frame_len = p->hdr_len + opt.payload;
    for (uint32_t k = 0; k < opt.payload; k++) p->frame[p->hdr_len + k] = (uint8_t)'x' ^ p->c->mask[k & 3];
    p->remaining = calloc(window, sizeof(int32_t));
  }
  w0->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  w0->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sentinel_timer};
  epoll_ctl(w0->epfd, EPOLL_CTL_ADD, w0->timerfd, &ev);
  ev.data.ptr = &sentinel_wake;
  epoll_ctl(w0->epfd, EPOLL_CTL_ADD, w0->wakefd, &ev);
}

static void hist_merge(hist_t *into, const hist_t *from) {
  for (uint32_t i = 0; i < HIST_BUCKETS; i++) into->counts[i] += from->counts[i];
  into->total += from->total;
  into->sum += from->sum;
  if (from->max > into->max) into->max = from->max;
}

static void json_latency(const hist_t *h) {
  printf("{\"count\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu,\"mean\":%.1f}",
         (unsigned long long)h->total, (unsigned long long)hist_quantile(h, 0.5), (unsigned long long)hist_quantile(h, 0.9),
         (unsigned long long)hist_quantile(h, 0.99), (unsigned long long)hist_quantile(h, 0.999), (unsigned long long)h->max,
         h->total ? (double)h->sum / (double)h->total : 0.0);
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    putchar(*s >= 32 ? *s : ' ');
  }
  putchar('"');
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  setup();
  uint64_t t_begin = now_ns();
  deadline_ns = t_begin + (uint64_t)(opt.timeout_s * 1e9);
  pthread_barrier_init(&barrier, NULL, opt.threads + 1);
  for (uint32_t t = 0; t < opt.threads; t++) pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]);
  pthread_barrier_wait(&barrier);
  double connect_ms = (double)(now_ns() - t_begin) / 1e6;
  printf("{\"event\":\"connected\",\"ok\":%s,\"connections\":%u,\"connect_ms\":%.1f}\n", atomic_load(&g_failed) ? "false" : "true",
         opt.subs, connect_ms);
  fflush(stdout);
  if (!opt.no_wait && !atomic_load(&g_failed)) {
    char line[64];
    if (!fgets(line, sizeof line, stdin) || strncmp(line, "go", 2) != 0) fail("aborted before traffic");
  }
  double cpu0 = cpu_seconds();
  uint64_t t_go = now_ns();
  deadline_ns = t_go + (uint64_t)(opt.timeout_s * 1e9);
  pthread_barrier_wait(&barrier);
  for (uint32_t t = 0; t < opt.threads; t++) pthread_join(workers[t].thread, NULL);
  double wall_s = (double)(now_ns() - t_go) / 1e9;
  double cpu_s = cpu_seconds() - cpu0;

  hist_t *h = &workers[0].hist;
  hist_t *remote = &workers[0].remote;
  uint64_t deliveries = 0, in_window = 0, dups = 0, ooo = 0, bad = 0, disconnects = 0;
  for (uint32_t t = 0; t < opt.threads; t++) {
    worker_t *w = &workers[t];
    deliveries += w->deliveries;
    in_window += w->in_window;
    dups += w->dups;
    ooo += w->ooo;
    bad += w->bad;
    disconnects += w->disconnects;
    if (t == 0) continue;
    hist_merge(h, &w->hist);
    hist_merge(remote, &w->remote);
  }
  uint64_t sent = 0;
  for (uint32_t i = 0; i < opt.pubs; i++) sent += pubs[i].next_seq;
  uint64_t expected = expected_deliveries();
  uint64_t unique = deliveries - dups;
  uint64_t lost = expected > unique ? expected - unique : 0;
  double cpu_pct = wall_s > 0 ? 100.0 * cpu_s / wall_s : 0;
  int saturated = cpu_pct >= 90.0 * opt.threads;
  printf("{\"event\":\"result\",\"ok\":%s,\"error\":", atomic_load(&g_failed) ? "false" : "true");
  if (atomic_load(&g_failed)) json_string(g_error);
  else printf("null");
  printf(",\"mode\":\"%s\",\"subs\":%u,\"pubs\":%u,\"payload\":%u,\"text\":%s,\"threads\":%u,\"window\":%u,"
         "\"connect_ms\":%.1f,\"measure_s\":%.3f,\"sent\":%llu,\"expected\":%llu,\"delivered\":%llu,\"unique\":%llu,"
         "\"lost\":%llu,\"dup\":%llu,\"ooo\":%llu,\"bad\":%llu,\"disconnects\":%llu,\"deliveries_per_s\":%.1f,"
         "\"cpu_s\":%.4f,\"wall_s\":%.4f,\"cpu_pct\":%.1f,\"saturated\":%s,\"stalled\":%s,\"drain_timed_out\":%s",
         opt.mode == MODE_FIXED ? "fixed" : "max", opt.subs, opt.pubs, opt.payload, opt.text ? "true" : "false", opt.threads,
         opt.mode == MODE_MAX ? window : 0, connect_ms, opt.measure_s, (unsigned long long)sent, (unsigned long long)expected,
         (unsigned long long)deliveries, (unsigned long long)unique, (unsigned long long)lost, (unsigned long long)dups,
         (unsigned long long)ooo, (unsigned long long)bad, (unsigned long long)disconnects, (double)in_window / opt.measure_s,
         cpu_s, wall_s, cpu_pct, saturated ? "true" : "false", ctl.stalled ? "true" : "false", ctl.drain_timed_out ? "true" : "false");
  /* the latencies go last, as nested objects, so the flat fields above keep one printf */
  printf(",\"latency_ns\":");
  json_latency(h);
  printf(",\"remote_latency_ns\":");
  if (opt.nurls > 1) json_latency(remote);
  else printf("null");
  printf("}\n");
  fflush(stdout);
  return atomic_load(&g_failed) ? 1 : 0;
}
