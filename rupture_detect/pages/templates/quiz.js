/* The in-page quiz: questions and explanations are server-rendered; this only shows, checks and scores. */
(function () {
  "use strict";
  var questions = Array.prototype.slice.call(document.querySelectorAll("#quiz .q"));
  if (!questions.length) { return; }
  var reveals = Array.prototype.slice.call(document.querySelectorAll("#quiz .reveal"));
  var selects = {
    family: document.getElementById("qa-family"),
    subtype: document.getElementById("qa-subtype"),
    dimension: document.getElementById("qa-dimension")
  };
  var check = document.getElementById("qa-check");
  var next = document.getElementById("qa-next");
  var restart = document.getElementById("qa-restart");
  var scoreEl = document.getElementById("quiz-score");
  var progress = document.getElementById("quiz-progress");
  var feedback = document.getElementById("qa-feedback");
  var parts = ["family", "subtype", "dimension"];
  var index = 0, asked = 0, right = 0, answered = false;

  function optionText(select, value) {
    var opt = select.querySelector('option[value="' + value + '"]');
    return opt ? opt.textContent : value;
  }

  function add(parent, tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = text;
    parent.appendChild(el);
    return el;
  }

  function updateScore() {
    scoreEl.textContent = "Score: " + right + " of " + asked + " question" + (asked === 1 ? "" : "s") + " right";
  }

  function show(k) {
    index = k;
    answered = false;
    questions.forEach(function (q, j) { q.hidden = j !== k; });
    reveals.forEach(function (r) { r.hidden = true; });
    parts.forEach(function (p) { selects[p].value = ""; selects[p].disabled = false; });
    feedback.textContent = "";
    check.hidden = false;
    next.hidden = true;
    restart.hidden = true;
    progress.textContent = "Question " + (k + 1) + " of " + questions.length;
  }

  check.addEventListener("click", function () {
    if (answered) { return; }
    var missing = parts.filter(function (p) { return !selects[p].value; });
    feedback.textContent = "";
    if (missing.length) {
      add(feedback, "p", "verdict", "Choose a " + missing.join(", a ") + " first.");
      selects[missing[0]].focus();
      return;
    }
    answered = true;
    var q = questions[index];
    var marks = parts.map(function (p) { return { part: p, ok: selects[p].value === q.dataset[p] }; });
    var allRight = marks.every(function (x) { return x.ok; });
    asked += 1;
    if (allRight) { right += 1; }
    updateScore();
    add(feedback, "p", "verdict " + (allRight ? "right" : "wrong"), allRight ? "Right!" : "Not quite.");
    var list = add(feedback, "ul", "marks", "");
    marks.forEach(function (x) {
      var chosen = optionText(selects[x.part], selects[x.part].value);
      var text = x.part.charAt(0).toUpperCase() + x.part.slice(1) + ": you chose " + chosen +
        (x.ok ? " (right)" : " (wrong: the coders chose " + optionText(selects[x.part], q.dataset[x.part]) + ")");
      add(list, "li", x.ok ? "right" : "wrong", text);
    });
    parts.forEach(function (p) { selects[p].disabled = true; });
    reveals[index].hidden = false;
    check.hidden = true;
    if (index < questions.length - 1) {
      next.hidden = false;
      next.focus();
    } else {
      add(feedback, "p", "score", "Quiz complete: " + right + " of " + asked + " right.");
      restart.hidden = false;
      restart.focus();
    }
  });

  next.addEventListener("click", function () { show(index + 1); selects.family.focus(); });
  restart.addEventListener("click", function () {
    asked = 0; right = 0;
    updateScore();
    show(0);
    selects.family.focus();
  });
  updateScore();
  show(0);
}());
