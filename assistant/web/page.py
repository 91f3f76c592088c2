"""The page's own CSS and script: the chat's height and reading order, citation links.

* The chat fills the window's height (desktop and phone) and the page keeps one width
  (a stable scrollbar gutter, a fixed container width).
* Gradio's autoscroll (to the bottom) is off: when a question is asked, the script scrolls
  the chat so that the question sits at the top and its answer reads from its first line
  down, while it streams too; it lets go as soon as the reader scrolls, clicks or types
  in the chat.
* A click on an answer's ``[n]`` (``a.pa-cite``, see ``render.format_answer``) opens
  source n's fold in the same message and scrolls it into view.
* The saved conversations listed beside the chat scroll when there are many (on a phone
  the list sits above the chat, a few lines high).
"""

from __future__ import annotations

CHAT_ID = "pa-chat"
SAVED_LIST_ID = "pa-saved"  # the saved conversations beside the chat

CSS = """
html {scrollbar-gutter: stable; overflow-y: scroll;}
.gradio-container {max-width: 1100px !important; width: 100% !important; margin: auto;}
#corpus-line {color: var(--body-text-color-subdued); font-size: 0.9em;}
#pa-chat {height: max(360px, calc(100dvh - 200px)) !important;}
#pa-chat .message details {margin: 0.25em 0; border-left: 3px solid var(--color-accent-soft);
  padding-left: 0.6em;}
#pa-chat .message summary {cursor: pointer; font-weight: 600;}
#pa-chat .message details[open] > summary {margin-bottom: 0.3em;}
#pa-chat a.pa-cite {text-decoration: none; font-weight: 600; white-space: nowrap;}
#pa-chat a.pa-cite:hover {text-decoration: underline;}
.pa-unsupported {display: inline-block; font-size: 0.75em; font-weight: 600;
  line-height: 1.3; padding: 0 0.4em; border-radius: 0.6em; cursor: help;
  color: #8a1c1c; background: #fde2e2; border: 1px solid #f3b3b3;}
.pa-unsupported.pa-partly {color: #6b4b00; background: #fdf1cf; border-color: #ecd58f;}
.pa-unsupported.pa-unverified {color: #3d4451; background: #e9ecf1; border-color: #c3c9d3;}
.pa-verdict {display: inline-block; margin-left: 0.5em; font-size: 0.75em; font-weight: 500;
  padding: 0 0.4em; border-radius: 0.6em; color: #1d5b2b; background: #def5e3;}
.pa-verdict.pa-partial {color: #6b4b00; background: #fdf1cf;}
.pa-verdict.pa-unverified {color: #3d4451; background: #e9ecf1;}
mark.pa-span {background: #fff1a8; color: inherit; padding: 0 0.1em;}
details.pa-source.pa-flash > summary {background: var(--color-accent-soft);}
#pa-saved {max-height: max(300px, calc(100dvh - 260px)); overflow-y: auto;}
#pa-hits .pa-hit {padding: 0.4em 0; border-bottom: 1px solid var(--border-color-primary);}
#pa-hits .pa-hit p {margin: 0.1em 0;}
#pa-hits .pa-hit details {margin: 0; padding: 0; border: 0;}
#pa-hits .pa-hit summary {cursor: pointer; list-style: none; display: block;}
#pa-hits .pa-hit summary::-webkit-details-marker {display: none;}
#pa-hits .pa-hit details:not([open]) .pa-lead {display: -webkit-box; -webkit-box-orient: vertical;
  -webkit-line-clamp: 2; line-clamp: 2; overflow: hidden;}
#pa-hits .pa-hit details:not([open]) summary::after {content: "more ▾"; font-size: 0.85em;
  color: var(--body-text-color-subdued);}
#pa-hits .pa-sim {color: var(--body-text-color-subdued); font-size: 0.9em; font-weight: 400;}
@media (max-width: 640px) {
  .gradio-container {padding-left: 6px !important; padding-right: 6px !important;}
  #pa-chat {height: max(320px, calc(100dvh - 170px)) !important;}
  #pa-saved {max-height: 8.5em;}
  .gradio-container h1 {font-size: 1.4em; margin: 0.2em 0;}
}
"""

# Plain ES2017, no framework: Gradio's markdown keeps ids, classes and titles (it drops
# data-* attributes), and runs this once when the page loads.
JS = """
() => {
  const CHAT = '#pa-chat';
  const log = () => {
    const chat = document.querySelector(CHAT);
    if (!chat) return null;
    return chat.querySelector('[role=log]') || chat.querySelector('.bubble-wrap') || chat;
  };
  const top = (el, box) => el.getBoundingClientRect().top - box.getBoundingClientRect().top
    + box.scrollTop;
  let following = -1;   // the index of the user message kept at the top, -1: none
  let asked = 0;
  const stop = () => { following = -1; };

  // [n] -> open source n's fold (in the same message) and bring it into view.
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.pa-cite');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    stop();
    const id = (link.getAttribute('href') || '').slice(1);
    const scope = link.closest('.message') || document;
    const fold = scope.querySelector('#' + CSS.escape(id)) || document.getElementById(id);
    if (!fold) return;
    fold.open = true;
    fold.classList.add('pa-flash');
    setTimeout(() => fold.classList.remove('pa-flash'), 1500);
    const box = log();
    if (box && box.contains(fold)) {
      box.scrollTop = Math.max(0, top(fold, box) - 8);
    } else {
      fold.scrollIntoView({block: 'nearest'});
    }
  }, true);

  // A new question: keep it at the top of the chat while its answer arrives.
  const settle = (box, question) => {
    let target = top(question, box) - 40;   // below the chat's corner buttons
    const answers = box.querySelectorAll('[data-testid=bot]');
    const last = answers.length ? answers[answers.length - 1] : null;
    if (last && top(last, box) > top(question, box)) {
      const lastTop = top(last, box);
      if (lastTop - target > box.clientHeight * 0.6) target = lastTop - 6;  // a long question
    }
    box.scrollTop = Math.max(0, target);
    const rect = box.getBoundingClientRect();   // the chat's top out of the window: bring it in
    if (rect.top < 0 || rect.top > window.innerHeight / 2) window.scrollBy(0, rect.top);
  };
  const watch = () => {
    const box = log();
    if (!box) return;
    const users = box.querySelectorAll('[data-testid=user]');
    if (users.length > asked) following = users.length - 1;
    else if (users.length < asked) stop();   // a new chat
    asked = users.length;
    if (following >= 0 && users[following]) settle(box, users[following]);
  };
  let bound = null;
  new MutationObserver((records) => {
    const chat = document.querySelector(CHAT);
    if (!chat || !records.some((r) => chat.contains(r.target))) return;  // not the chat
    const box = log();
    if (box && box !== bound) {
      bound = box;
      for (const name of ['wheel', 'touchstart', 'pointerdown']) {
        box.addEventListener(name, stop, {passive: true});
      }
    }
    watch();
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
  window.addEventListener('wheel', stop, {passive: true});
  window.addEventListener('keydown', stop, {passive: true});   // arrows, page down, Enter
  window.addEventListener('touchstart', (event) => {
    if (!event.target.closest || !event.target.closest('textarea, button')) stop();
  }, {passive: true});
}
"""
