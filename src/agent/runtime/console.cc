// Console socket: listen, accept, recvmsg(SCM_RIGHTS); pty resize.
#include "agent/runtime/console.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace kelp::agent {

Result<UniqueFd> ListenConsoleSocket(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof(address.sun_path)) {
    return InvalidArgumentError("console socket path too long: " + path.string());
  }
  std::strcpy(address.sun_path, path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket", errno);
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return ErrnoStatus("bind " + path.string(), errno);
  }
  if (::listen(fd.get(), 1) != 0) return ErrnoStatus("listen " + path.string(), errno);
  return fd;
}

Result<UniqueFd> ReceivePtyMaster(int listen_fd, std::chrono::milliseconds timeout,
                                  int abort_fd) {
  pollfd events[2] = {{.fd = listen_fd, .events = POLLIN, .revents = 0},
                      {.fd = abort_fd, .events = POLLIN, .revents = 0}};
  int ready = 0;
  do {
    ready = ::poll(events, 2, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return ErrnoStatus("poll console socket", errno);
  if (ready == 0) return DeadlineExceededError("runc did not send the console");
  if (events[0].revents == 0) return CancelledError("runc exited before sending the console");
  UniqueFd connection(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!connection.valid()) return ErrnoStatus("accept console socket", errno);

  char name[4096];
  iovec iov{.iov_base = name, .iov_len = sizeof(name)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t n = 0;
  do {
    n = ::recvmsg(connection.get(), &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("recvmsg console", errno);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
    return InternalError("console socket: no file descriptor received");
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof(fd));
  return UniqueFd(fd);
}

Status ResizePty(int pty_fd, uint16_t columns, uint16_t rows) {
  winsize size{};
  size.ws_col = columns;
  size.ws_row = rows;
  if (::ioctl(pty_fd, TIOCSWINSZ, &size) != 0) return ErrnoStatus("TIOCSWINSZ", errno);
  return Status::Ok();
}

}  // namespace kelp::agent
