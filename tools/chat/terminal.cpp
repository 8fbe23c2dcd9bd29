// Line input on stdin for `herald chat`: a raw-mode line editor on a terminal, plain lines on a
// pipe or file, and output printed above the prompt.
#include "tools/chat/terminal.h"

#include <unistd.h>

#include <cstdio>

namespace herald::tools::chat {

namespace {

void write_out(std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
}

// Display width of UTF-8 text, counted as one column per code point: good enough for the
// prompt arithmetic (wide characters only make the redraw clear one row too few).
size_t display_width(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

}  // namespace

std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) c = '?';
    }
    return out;
}

Terminal::~Terminal() {
    if (raw_) uv_tty_reset_mode();
}

int Terminal::start(uv_loop_t* loop) {
    loop_ = loop;
    uv_handle_type in = uv_guess_handle(0);
    bool out_tty = uv_guess_handle(1) == UV_TTY;
    int rc = 0;
    if (in == UV_TTY) {
        rc = uv_tty_init(loop, &tty_, 0, 1);
        if (rc != 0) return rc;
        tty_open_ = true;
        stream_ = reinterpret_cast<uv_stream_t*>(&tty_);
        if (out_tty) {
            rc = uv_tty_set_mode(&tty_, UV_TTY_MODE_RAW);
            raw_ = interactive_ = rc == 0;
        }
    } else if (in == UV_NAMED_PIPE || in == UV_TCP) {
        rc = uv_pipe_init(loop, &pipe_, 0);
        if (rc == 0) rc = uv_pipe_open(&pipe_, 0);
        if (rc != 0) return rc;
        pipe_open_ = true;
        stream_ = reinterpret_cast<uv_stream_t*>(&pipe_);
    } else {
        // A regular file or /dev/null: epoll cannot watch it, so read it now and feed its
        // lines from the loop, as if they had been typed.
        char buf[4096];
        ssize_t n;
        while ((n = ::read(0, buf, sizeof buf)) > 0) file_data_.append(buf, size_t(n));
        uv_timer_init(loop, &file_timer_);
        file_timer_.data = this;
        timer_open_ = true;
        uv_timer_start(
            &file_timer_,
            [](uv_timer_t* t) {
                auto* self = static_cast<Terminal*>(t->data);
                std::string data = std::move(self->file_data_);
                self->feed_lines(data);
                self->finish_input();
            },
            0, 0);
        return 0;
    }
    stream_->data = this;
    return uv_read_start(stream_, on_alloc, on_read);
}

void Terminal::close() {
    if (stream_ && tty_open_) uv_read_stop(stream_);
    if (drawn_) {
        erase_input();
        std::fflush(stdout);
    }
    if (raw_) {
        uv_tty_reset_mode();
        raw_ = false;
    }
    interactive_ = false;
    eof_ = true;  // a deliberate stop: no on_eof
    auto close_handle = [](uv_handle_t* h, bool& open) {
        if (open && !uv_is_closing(h)) uv_close(h, nullptr);
        open = false;
    };
    close_handle(reinterpret_cast<uv_handle_t*>(&tty_), tty_open_);
    close_handle(reinterpret_cast<uv_handle_t*>(&pipe_), pipe_open_);
    close_handle(reinterpret_cast<uv_handle_t*>(&file_timer_), timer_open_);
    stream_ = nullptr;
}

void Terminal::set_prompt(std::string prompt) {
    if (!interactive_) {
        prompt_ = std::move(prompt);
        return;
    }
    erase_input();
    prompt_ = std::move(prompt);
    draw_input();
    std::fflush(stdout);
}

void Terminal::print(std::string_view line) {
    if (interactive_) erase_input();
    write_out(line);
    write_out("\n");
    if (interactive_) draw_input();
    std::fflush(stdout);
}

size_t Terminal::columns() const {
    int width = 0, height = 0;
    if (tty_open_ && uv_tty_get_winsize(const_cast<uv_tty_t*>(&tty_), &width, &height) == 0 && width > 0)
        return size_t(width);
    return 80;
}

void Terminal::erase_input() {
    if (!drawn_) return;
    // The cursor sits after the typed text, which may have wrapped: go back to the first row
    // of the prompt, then clear to the end of the screen. After exactly `cols` characters a
    // terminal keeps the cursor on the same row (pending wrap), hence len - 1.
    size_t len = display_width(prompt_) + display_width(input_);
    size_t rows = len > 0 ? (len - 1) / columns() : 0;
    std::string seq = "\r";
    for (size_t i = 0; i < rows; ++i) seq += "\x1b[A";
    seq += "\x1b[J";
    write_out(seq);
    drawn_ = false;
}

void Terminal::draw_input() {
    write_out(prompt_);
    write_out(input_);
    drawn_ = true;
}

void Terminal::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Terminal*>(handle->data);
    *buf = uv_buf_init(self->read_buf_, sizeof self->read_buf_);
}

void Terminal::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Terminal*>(stream->data);
    if (nread < 0) {
        self->finish_input();
        return;
    }
    std::string_view bytes(buf->base, size_t(nread));
    if (self->raw_) self->feed_raw(bytes);
    else self->feed_lines(bytes);
}

void Terminal::finish_input() {
    if (eof_) return;
    eof_ = true;
    if (!input_.empty() && !raw_) {  // a last line without its newline
        std::string line = std::move(input_);
        input_.clear();
        if (on_line) on_line(std::move(line));
    }
    if (stream_) uv_read_stop(stream_);
    if (on_eof) on_eof();
}

void Terminal::feed_lines(std::string_view bytes) {
    for (char c : bytes) {
        if (eof_) return;
        if (c != '\n') {
            input_ += c;
            continue;
        }
        std::string line = std::move(input_);
        input_.clear();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (on_line) on_line(std::move(line));
    }
}

void Terminal::feed_raw(std::string_view bytes) {
    erase_input();
    for (char ch : bytes) {
        if (eof_) break;
        unsigned char c = static_cast<unsigned char>(ch);
        bool cr = false;
        // Escape sequences (arrow keys, function keys) are swallowed: the editor only appends.
        if (escape_ == Escape::Esc) {
            escape_ = c == '[' ? Escape::Csi : c == 'O' ? Escape::Ss3 : Escape::None;
            continue;
        }
        if (escape_ == Escape::Csi) {
            if (c >= 0x40 && c <= 0x7E) escape_ = Escape::None;
            continue;
        }
        if (escape_ == Escape::Ss3) {
            escape_ = Escape::None;
            continue;
        }
        switch (c) {
        case 0x1B: escape_ = Escape::Esc; break;
        case '\r':
        case '\n': {
            cr = c == '\r';
            if (c == '\n' && last_cr_) break;  // CR LF: one line end
            std::string line = std::move(input_);
            input_.clear();
            if (on_line) on_line(std::move(line));  // may print, which draws the prompt
            erase_input();
            break;
        }
        case 0x7F:
        case 0x08:  // backspace: remove one UTF-8 character
            while (!input_.empty() && (static_cast<unsigned char>(input_.back()) & 0xC0) == 0x80) input_.pop_back();
            if (!input_.empty()) input_.pop_back();
            break;
        case 0x15: input_.clear(); break;  // Ctrl-U
        case 0x17:                         // Ctrl-W: the word before the cursor
            while (!input_.empty() && input_.back() == ' ') input_.pop_back();
            while (!input_.empty() && input_.back() != ' ') input_.pop_back();
            break;
        case 0x0C: write_out("\x1b[H\x1b[2J"); break;  // Ctrl-L
        case 0x03: finish_input(); break;               // Ctrl-C
        case 0x04:                                      // Ctrl-D on an empty line
            if (input_.empty()) finish_input();
            break;
        case '\t': input_ += ' '; break;
        default:
            if (c >= 0x20) input_ += ch;  // other control characters are ignored
            break;
        }
        last_cr_ = cr;
    }
    if (interactive_) draw_input();
    std::fflush(stdout);
}

}  // namespace herald::tools::chat
