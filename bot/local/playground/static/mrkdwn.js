// Slack mrkdwn -> safe HTML: *bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes,
// <@U123> mentions, <#C1|name> channels, <!here>, <url|label> links and :emoji: shortcodes.
// Everything from the bot is escaped first; only the tags below are ever produced.

export const EMOJI = {
  "+1": "👍", "-1": "👎", anchor: "⚓", arrow_down: "⬇️", arrow_down_small: "🔽", arrow_right: "➡️",
  arrow_up: "⬆️", arrow_up_small: "🔼", arrows_counterclockwise: "🔄", bar_chart: "📊", books: "📚",
  boom: "💥", bulb: "💡", bust_in_silhouette: "👤", chart_with_downwards_trend: "📉",
  chart_with_upwards_trend: "📈", checkered_flag: "🏁", child: "🧒", clipboard: "📋", construction: "🚧",
  crown: "👑", exclamation: "❗", eyes: "👀", fire: "🔥", first_place_medal: "🥇", floppy_disk: "💾",
  gear: "⚙️", hammer_and_wrench: "🛠️", heavy_check_mark: "✔️", heavy_minus_sign: "➖",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", ice_cube: "🧊", information_source: "ℹ️",
  large_blue_circle: "🔵", large_green_circle: "🟢", large_orange_circle: "🟠",
  large_yellow_circle: "🟡", lock: "🔒", mag: "🔍", man: "👨", medal: "🏅", new: "🆕",
  no_entry: "⛔", no_entry_sign: "🚫", ok_hand: "👌", package: "📦", pencil: "📝", pencil2: "✏️",
  pray: "🙏", question: "❓", raised_hands: "🙌", red_circle: "🔴", repeat: "🔁", rewind: "⏪",
  ring_buoy: "🛟", robot_face: "🤖", rocket: "🚀", scroll: "📜", shield: "🛡️", ship: "🚢",
  slightly_smiling_face: "🙂", smile: "😄", sparkles: "✨", stopwatch: "⏱️", sweat_smile: "😅",
  tada: "🎉", thinking_face: "🤔", trophy: "🏆", warning: "⚠️", wave: "👋",
  white_check_mark: "✅", woman: "👩", wrench: "🔧", x: "❌", zap: "⚡",
};

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Slack escapes only &, < and > in message text; turn them back before escaping for HTML. */
function decodeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function emojify(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] ?? all);
}

/** plain_text objects: escaped, emoji shortcodes unless emoji === false, newlines kept. */
export function plainText(text, emoji = true) {
  const html = escapeHtml(text).replace(/\n/g, "<br>");
  return emoji ? emojify(html) : html;
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

function control(inner, ctx) {
  // <@U123>, <@U123|name>, <#C123|general>, <!here>, <https://x|label>
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = ctx.userName?.(id) ?? label ?? id;
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="mention mention--channel">#${escapeHtml(label ?? target.slice(1))}</span>`;
  }
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return `<span class="mention mention--special">@${escapeHtml(label ?? word)}</span>`;
  }
  const href = safeUrl(decodeSlack(target));
  const text = escapeHtml(decodeSlack(label ?? target));
  return href ? `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${text}</a>` : text;
}

const BOLD = /(^|[^\w*])\*(\S(?:[^*\n]*?\S)?)\*(?![\w*])/g;
const ITALIC = /(^|[^\w_])_(\S(?:[^_\n]*?\S)?)_(?![\w_])/g;
const STRIKE = /(^|[^\w~])~(\S(?:[^~\n]*?\S)?)~(?![\w~])/g;

/** Render Slack mrkdwn as HTML. ctx.userName(id) names mentioned users. */
export function mrkdwn(text, ctx = {}) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let s = String(text ?? "");
  // Code first: nothing inside it is formatted.
  s = s.replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre class="code-block">${escapeHtml(decodeSlack(code.replace(/^\n/, "")))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHtml(decodeSlack(code))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (_, inner) => hold(control(inner, ctx)));
  s = escapeHtml(decodeSlack(s));
  s = s.replace(BOLD, "$1<b>$2</b>").replace(ITALIC, "$1<i>$2</i>").replace(STRIKE, "$1<s>$2</s>");
  s = emojify(s);
  // "> quote" lines (the > is escaped by now).
  s = s
    .split("\n")
    .map((line) => (line.startsWith("&gt; ") ? `<blockquote>${line.slice(5)}</blockquote>` : line))
    .join("\n")
    .replace(/<\/blockquote>\n<blockquote>/g, "<br>")
    .replace(/\n/g, "<br>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
}
