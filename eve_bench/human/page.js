// The rating page. Every text from the study (caption, instruction, names) goes in through
// textContent, never innerHTML, so markup in a prompt shows as text.
'use strict';
const $ = id => document.getElementById(id);
let rater = '', current = null;

function show(section) { ['login', 'task', 'done'].forEach(s => { $(s).hidden = s !== section; }); }
function error(message) { $('error').textContent = message || ''; }

async function call(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function syncVideos() {
  const lead = $('source').src ? $('source') : $('left');
  const all = ['source', 'left', 'right'].map($).filter(v => v.src);
  lead.ontimeupdate = () => all.forEach(v => { if (v !== lead && Math.abs(v.currentTime - lead.currentTime) > 0.1) v.currentTime = lead.currentTime; });
  all.forEach(v => { v.currentTime = 0; v.play().catch(() => {}); });
}

function render(a) {
  current = a;
  $('progress').textContent = `Pair ${a.progress[0] + 1} of ${a.progress[1]} (rater: ${rater})`;
  $('caption').textContent = a.caption ?? '(none)';
  $('instruction-row').hidden = a.instruction === null;
  $('instruction').textContent = a.instruction ?? '';
  $('source-box').hidden = !a.source;
  if (a.source) $('source').src = a.source; else $('source').removeAttribute('src');
  $('left').src = a.left;
  $('right').src = a.right;
  const box = $('questions');
  box.replaceChildren();
  const choices = a.ties ? [['left', 'Left'], ['tie', 'Tie'], ['right', 'Right']] : [['left', 'Left'], ['right', 'Right']];
  a.questions.forEach(q => {
    const set = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = q.text;
    set.appendChild(legend);
    choices.forEach(([value, label]) => {
      const l = document.createElement('label'); l.className = 'choice';
      const input = document.createElement('input');
      Object.assign(input, {type: 'radio', name: q.id, value, required: true});
      l.append(input, ' ' + label);
      set.appendChild(l);
    });
    box.appendChild(set);
  });
  $('submit').disabled = true;
  show('task');
  syncVideos();
}

async function next() {
  const a = await call('/api/next?rater=' + encodeURIComponent(rater));
  if (a.done) { show('done'); return; }
  render(a);
}

$('login-form').addEventListener('submit', async event => {
  event.preventDefault();
  rater = $('rater').value.trim();
  localStorage.setItem('eve-bench-rater', rater);
  error('');
  try { await next(); } catch (e) { error(e.message); }
});

$('vote-form').addEventListener('change', () => {
  $('submit').disabled = !current.questions.every(q => document.querySelector(`input[name="${q.id}"]:checked`));
});

$('vote-form').addEventListener('submit', async event => {
  event.preventDefault();
  const answers = {};
  current.questions.forEach(q => { answers[q.id] = document.querySelector(`input[name="${q.id}"]:checked`).value; });
  $('submit').disabled = true;
  try {
    await call('/api/vote', {method: 'POST', headers: {'Content-Type': 'application/json'},
                             body: JSON.stringify({rater, assignment: current.assignment, answers})});
    error('');
    await next();
  } catch (e) { error(e.message); $('submit').disabled = false; }
});

$('rater').value = localStorage.getItem('eve-bench-rater') || '';
